"""How each trainable classifier is fit and scored on guard examples, and the shared
routine around them: fit on train, calibrate on the calibration split's permitted
examples, measure on test and held-out styles, save the artifact.

A value head's score of a whole example is its running maximum at the reply's last token,
the score its streaming halt compares with the threshold (halt_after = 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tailscope.guard.calibrate import calibrate_threshold, rate_with_interval
from tailscope.guard.features import ExchangeStates, exchange_states
from tailscope.guard.heads import LinearHead, fit_logistic, train_value_head
from tailscope.store.guard_data import GuardExample


@dataclass
class TrainSettings:
    fp_budget: float
    steps: int
    lr: float
    seed: int
    constitution: dict
    backbone: str = ""
    states: dict = field(default_factory=dict)  # (model name, example key) -> ExchangeStates


def _key(example: GuardExample) -> tuple:
    return (example.prompt, example.system_prompt, example.completion)


def states_of(model, examples: list[GuardExample], settings: TrainSettings) -> list[ExchangeStates]:
    """Hidden states of the examples' exchanges, computed once per model and example."""
    todo = [e for e in examples if (model.name, _key(e)) not in settings.states]
    fresh = exchange_states(
        model,
        [e.prompt for e in todo],
        [e.completion for e in todo],
        [e.system_prompt for e in todo],
    )
    for example, states in zip(todo, fresh, strict=True):
        half = ExchangeStates(states.prompt.half(), states.span.half(), states.reply_ends)
        settings.states[(model.name, _key(example))] = half
    return [settings.states[(model.name, _key(e))] for e in examples]


def _labels(examples) -> list[bool]:
    return [e.restricted for e in examples]


# ---- the classifiers: fit(train, models, settings) -> head; score(head, examples, ...) ----


def _prompt_features(models, examples, settings) -> np.ndarray:
    states = states_of(models["backbone"], examples, settings)
    return torch.stack([s.prompt.float() for s in states]).numpy()


def _minilm_features(models, examples, settings) -> np.ndarray:
    from tailscope.detectors.embeddings import embedder
    from tailscope.guard.guards.minilm import prompt_text

    return embedder().embed([prompt_text(e.prompt, e.system_prompt) for e in examples])


def _logistic(features: Callable):
    def fit(models, train, settings):
        return LinearHead(*fit_logistic(features(models, train, settings), _labels(train)))

    def score(head, models, examples, settings):
        return head.score(features(models, examples, settings))

    return fit, score


def _value_head(role: str, reading: str):
    def replies(models, examples, settings):
        return [s.reply(reading).float() for s in states_of(models[role], examples, settings)]

    def fit(models, train, settings):
        w, b, mean, scale, losses = train_value_head(
            replies(models, train, settings),
            _labels(train),
            steps=settings.steps,
            lr=settings.lr,
            seed=settings.seed,
        )
        return LinearHead(w, b, mean, scale, {"loss_first": losses[0], "loss_last": losses[-1]})

    def score(head, models, examples, settings):
        scored = [head.score(r.numpy()) for r in replies(models, examples, settings)]
        return np.array([s.max() if len(s) else 0.0 for s in scored], dtype=np.float32)

    return fit, score


def _judge():
    def fit(models, train, settings):
        return None

    def score(head, models, examples, settings):
        from tailscope.detectors.judge import JudgeDetector
        from tailscope.guard.constitution import parse_constitution
        from tailscope.guard.guards.transcript import (
            TRANSCRIPT_RUBRIC,
            restricted_goal,
            transcript_text,
        )

        goal = restricted_goal(parse_constitution(settings.constitution))
        judge = JudgeDetector(goal, rubric=TRANSCRIPT_RUBRIC, model_instance=models["judge"])
        texts = [transcript_text(e.prompt, e.completion) for e in examples]
        return np.asarray(judge.score(texts), dtype=np.float32)

    return fit, score


SCORERS: dict[str, tuple[Callable, Callable]] = {
    "input-classifier": _logistic(_prompt_features),
    "value-head": _value_head("backbone", "own"),
    "activation-probe": _value_head("target", "emitting"),
    "minilm": _logistic(_minilm_features),
    "transcript-judge": _judge(),
}


# ---- fit, calibrate, measure, save ---------------------------------------------------------


def measure(scores: np.ndarray, examples: list[GuardExample], threshold: float) -> dict:
    """TPR on restricted and FPR on permitted examples with intervals, AUROC, TPR by style."""
    flagged = np.asarray(scores) >= threshold
    labels = np.array(_labels(examples), dtype=bool)
    out = {
        "tpr": rate_with_interval(int((flagged & labels).sum()), int(labels.sum())),
        "fpr": rate_with_interval(int((flagged & ~labels).sum()), int((~labels).sum())),
        "auroc": _auroc(scores, labels),
        "tpr_by_style": {},
    }
    for style in sorted({e.style for e in examples}):
        mine = np.array([e.style == style for e in examples]) & labels
        out["tpr_by_style"][style] = rate_with_interval(
            int((flagged & mine).sum()), int(mine.sum())
        )
    return out


def _auroc(scores, labels) -> float | None:
    if labels.all() or not labels.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def train_classifier(name: str, splits, models, settings: TrainSettings, artifact: Path) -> dict:
    fit, score = SCORERS[name]
    head = fit(models, splits["train"], settings)
    permitted = [e for e in splits["calibration"] if not e.restricted]
    calibration = calibrate_threshold(score(head, models, permitted, settings), settings.fp_budget)
    record = {
        "classifier": name,
        "threshold": calibration.threshold,
        "calibration": {
            "n_permitted": calibration.n_permitted,
            "flagged": calibration.flagged,
            "fp_budget": settings.fp_budget,
        },
        "artifact": None,
        "train": {"n": len(splits["train"]), **({} if head is None else head.meta)},
    }
    for split in ("test", "heldout"):
        examples = splits[split]
        record[split] = (
            measure(score(head, models, examples, settings), examples, calibration.threshold)
            if examples
            else None
        )
    if head is not None:
        head.meta = {**head.meta, **_meta(name, models, settings, calibration.threshold)}
        head.save(artifact)
        record["artifact"] = str(artifact)
    return record


def _meta(name: str, models, settings: TrainSettings, threshold: float) -> dict:
    meta = {
        "classifier": name,
        "threshold": threshold,
        "fp_budget": settings.fp_budget,
        "constitution": settings.constitution.get("name"),
        "system_prompt": settings.constitution.get("system_prompt"),
    }
    if name in ("input-classifier", "value-head"):
        meta["backbone"] = settings.backbone
    if name == "activation-probe":
        meta["target"] = models["target"].name
    return meta
