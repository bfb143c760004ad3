"""The ensemble wired to labels: MiniLM features of each item, the bagged ensemble's held-out
predictions scored against the human verdicts (uncertainty–error correlation, risk–coverage,
AURC beside the detector's own), and per-item uncertainty for the review queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.review.calibration import truths
from tailscope.review.ensemble import (
    BaggedEnsemble,
    abstain,
    risk_coverage,
    uncertainty_error_correlation,
)
from tailscope.review.items import ReviewItem
from tailscope.store import Label

MIN_PER_CLASS = 5  # held-out evaluation needs a few of each class in every fold
SCORE_WEIGHT = 3.0  # the detector's score beside unit-length embeddings: give it a voice
DEFAULT_BAND = 0.2  # abstain where the mean P(present) lies within 0.2 of 0.5
DEFAULT_MAX_SPREAD = 0.15  # or where the members' standard deviation exceeds this

Embed = Callable[[Sequence[str]], np.ndarray]


def item_features(items: Sequence[ReviewItem], embed: Embed | None = None) -> np.ndarray:
    """Each item's reply embedded by MiniLM (where the behavior shows), with the detector's
    score as one more column. `embed` replaces MiniLM (texts → unit rows)."""
    if embed is None:
        from tailscope.detectors.embeddings import embedder

        embed = embedder().embed
    vectors = np.asarray(embed([item.reply for item in items]), dtype=float)
    scores = np.array([[item.score] for item in items], dtype=float)
    return np.hstack([vectors.reshape(len(items), -1), SCORE_WEIGHT * scores])


@dataclass
class EnsembleEvaluation:
    labelled: int
    members: int
    folds: int
    accuracy: float  # of the held-out mean prediction against the human verdicts
    detector_accuracy: float  # of the detector's verdicts on the same items
    disagreement_error_spearman: float  # members' spread vs being wrong (Gleave & Irving)
    total_uncertainty_error_spearman: float  # 0.5 − |mean − 0.5| vs being wrong
    coverage: list[float]
    risk: list[float]  # the ensemble's error rate among its most confident items
    aurc: float
    detector_risk: list[float]  # the same, ranking by the detector's distance from threshold
    detector_aurc: float
    band: float
    max_spread: float
    abstained: int  # items the abstain rule defers to a human
    risk_answered: float | None  # error rate on the items it does not abstain on


def require_trainable(y: np.ndarray, per_class: int = MIN_PER_CLASS) -> None:
    present, absent = int(y.sum()), int(len(y) - y.sum())
    if min(present, absent) < per_class:
        raise TailscopeError(
            f"the ensemble needs at least {per_class} labelled items of each class, and has "
            f"{present} present and {absent} absent: label more with `tailscope review`"
        )


def evaluate(
    features: np.ndarray,
    y: np.ndarray,
    items: Sequence[ReviewItem],
    members: int = 10,
    seed: int = 0,
    band: float = DEFAULT_BAND,
    max_spread: float = DEFAULT_MAX_SPREAD,
) -> EnsembleEvaluation:
    """Out-of-fold (stratified, up to 5 folds) predictions for every labelled item, so no
    item is judged by members that saw its label."""
    y = np.asarray(y, dtype=int)
    require_trainable(y)
    mean, spread, folds = held_out(features, y, members, seed)
    errors = ((mean >= 0.5).astype(int) != y).astype(float)
    flagged = np.array([item.flagged for item in items], dtype=int)
    detector_errors = (flagged != y).astype(float)
    margin = np.array([abs(item.score - item.behavior.threshold) for item in items])
    ours = risk_coverage(np.abs(mean - 0.5), errors)
    theirs = risk_coverage(margin, detector_errors)
    deferred = abstain(mean, spread, band, max_spread)
    answered = errors[~deferred]
    return EnsembleEvaluation(
        labelled=len(y),
        members=members,
        folds=folds,
        accuracy=float(1 - errors.mean()),
        detector_accuracy=float(1 - detector_errors.mean()),
        disagreement_error_spearman=uncertainty_error_correlation(spread, errors),
        total_uncertainty_error_spearman=uncertainty_error_correlation(
            0.5 - np.abs(mean - 0.5), errors
        ),
        coverage=ours.coverage.tolist(),
        risk=ours.risk.tolist(),
        aurc=ours.aurc,
        detector_risk=theirs.risk.tolist(),
        detector_aurc=theirs.aurc,
        band=band,
        max_spread=max_spread,
        abstained=int(deferred.sum()),
        risk_answered=float(answered.mean()) if answered.size else None,
    )


def evaluate_labels(
    items: list[ReviewItem], labels: list[Label], members: int = 10, seed: int = 0
) -> EnsembleEvaluation:
    """`evaluate` on the items that have a human verdict, featurized by MiniLM."""
    verdicts = truths(items, labels)
    labelled = [item for item in items if item.key in verdicts]
    y = np.array([verdicts[item.key] for item in labelled], dtype=int)
    require_trainable(y)
    return evaluate(item_features(labelled), y, labelled, members, seed)


def held_out(features: np.ndarray, y: np.ndarray, members: int, seed: int):
    """(mean, spread, folds): each item predicted by an ensemble fitted without it."""
    from sklearn.model_selection import StratifiedKFold

    folds = min(5, int(min(y.sum(), len(y) - y.sum())))
    mean, spread = np.empty(len(y)), np.empty(len(y))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(features, y):
        model = BaggedEnsemble(members, seed).fit(features[train], y[train])
        mean[test], spread[test] = model.predict(features[test])
    return mean, spread, folds


@dataclass(frozen=True)
class ItemUncertainty:
    mean: float  # the ensemble's P(present)
    spread: float  # the members' disagreement
    abstain: bool


def queue_uncertainty(
    items: Sequence[ReviewItem],
    features: np.ndarray,
    verdicts: dict[tuple, bool],
    members: int = 10,
    seed: int = 0,
    band: float = DEFAULT_BAND,
    max_spread: float = DEFAULT_MAX_SPREAD,
) -> dict[tuple, ItemUncertainty] | None:
    """The ensemble fitted on every labelled item, applied to all: what the review queue's
    `ensemble` order and abstain filter read. None until both classes have a few labels."""
    labelled = [i for i, item in enumerate(items) if item.key in verdicts]
    y = np.array([verdicts[items[i].key] for i in labelled], dtype=int)
    if min(int(y.sum()), int(len(y) - y.sum())) < 2:
        return None
    model = BaggedEnsemble(members, seed).fit(features[labelled], y)
    mean, spread = model.predict(features)
    deferred = abstain(mean, spread, band, max_spread)
    return {
        item.key: ItemUncertainty(float(m), float(s), bool(d))
        for item, m, s, d in zip(items, mean, spread, deferred, strict=True)
    }
