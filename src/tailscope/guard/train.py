"""Training guards from a guard-data run (`tailscope guard train`): each classifier is fit
on the train split, its threshold calibrated on the calibration split's permitted examples
to a false-positive budget (`guard/calibrate.py`), measured on the test split and on the
held-out augmentation styles, and saved as a workspace artifact that a guard file names.

A unit of the run is one classifier, committed with its record (threshold, metrics and the
artifact's path) once the artifact is on disk, so a killed run resumes at the next one."""

from __future__ import annotations

from pydantic import Field, field_validator

from tailscope.errors import TailscopeError
from tailscope.guard.calibrate import DEFAULT_FP_BUDGET, check_budget
from tailscope.guard.scorers import SCORERS, TrainSettings, train_classifier
from tailscope.models.base import Capability
from tailscope.models.registry import DEFAULT_MODEL
from tailscope.runs.config import ModelNeed, RunConfig
from tailscope.runs.progress import Progress
from tailscope.store import Workspace
from tailscope.store.guard_data import GuardExample

DEFAULT_CLASSIFIERS = ("input-classifier", "value-head", "activation-probe", "minilm")
MIN_TRAIN_PER_LABEL = 8
MIN_CALIBRATION_PERMITTED = 10


class GuardTrainConfig(RunConfig):
    data: str  # the guard-data run
    classifiers: list[str] = list(DEFAULT_CLASSIFIERS)
    backbone: str = DEFAULT_MODEL  # what the input classifier and value head read text with
    target: str | None = None  # the activation probe's white-box target [default: backbone]
    judge: str = DEFAULT_MODEL  # the transcript judge's model
    fp_budget: float = DEFAULT_FP_BUDGET
    steps: int = Field(300, ge=1, description="value-head training steps")
    lr: float = Field(1e-2, gt=0.0)

    @field_validator("classifiers")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in SCORERS]
        if unknown or not value:
            raise ValueError(
                f"unknown classifier {unknown[0] if unknown else ''!r}: use some of "
                f"{', '.join(SCORERS)}"
            )
        return list(dict.fromkeys(value))

    def check(self) -> None:
        check_budget(self.fp_budget)

    def model_needs(self) -> dict[str, ModelNeed]:
        white_box = frozenset({Capability.WHITE_BOX})
        needs = {}
        if {"input-classifier", "value-head"} & set(self.classifiers):
            needs["backbone"] = ModelNeed(self.backbone, white_box, "a guard's backbone")
        if "activation-probe" in self.classifiers:
            spec = self.target or self.backbone
            needs["target"] = ModelNeed(spec, white_box, "an activation probe")
        if "transcript-judge" in self.classifiers:
            gen = frozenset({Capability.GENERATE})
            needs["judge"] = ModelNeed(self.judge, gen, "the transcript judge")
        return needs


def split_examples(examples: list[GuardExample]) -> dict[str, list[GuardExample]]:
    splits: dict[str, list[GuardExample]] = {
        "train": [],
        "calibration": [],
        "test": [],
        "heldout": [],
    }
    for example in examples:
        splits[example.split].append(example)
    return splits


def check_data(ws: Workspace, data_run: str) -> dict[str, list[GuardExample]]:
    """The splits of a guard-data run, or one line saying how much more is needed."""
    run = ws.runs.get(data_run)
    if run.kind != "guard-data":
        raise TailscopeError(
            f"run {data_run} is a {run.kind} run, not guard data: make some with "
            "`tailscope guard data -c CONSTITUTION`"
        )
    splits = split_examples(ws.guard_data.examples(data_run))
    restricted = sum(e.restricted for e in splits["train"])
    permitted = len(splits["train"]) - restricted
    calibration = sum(not e.restricted for e in splits["calibration"])
    if min(restricted, permitted) < MIN_TRAIN_PER_LABEL or calibration < MIN_CALIBRATION_PERMITTED:
        raise TailscopeError(
            f"guard data {data_run} is too small to train on: {restricted} restricted and "
            f"{permitted} permitted training examples, {calibration} permitted calibration "
            f"examples; training needs at least {MIN_TRAIN_PER_LABEL}, {MIN_TRAIN_PER_LABEL} "
            f"and {MIN_CALIBRATION_PERMITTED}: generate more with "
            "`tailscope guard data --per-category N`"
        )
    return splits


def execute_guard_train(
    ws: Workspace, run_id: str, config: GuardTrainConfig, seed: int, models, progress: Progress
) -> None:
    splits = check_data(ws, config.data)
    data_config = ws.runs.get(config.data).config
    settings = TrainSettings(
        fp_budget=config.fp_budget,
        steps=config.steps,
        lr=config.lr,
        seed=seed,
        constitution=data_config["constitution"],
        backbone=config.backbone,
    )
    done = ws.units.completed(run_id)
    task = progress.task("classifiers", total=len(config.classifiers), completed=len(done))
    for name in config.classifiers:
        if name in done:
            continue
        with progress.status(f"training {name}"):
            artifact = ws.artifact_dir(run_id, name)
            record = train_classifier(name, splits, models, settings, artifact)
        ws.units.complete(run_id, name, record)
        progress.note(summary_line(record))
        task.update(completed=len(ws.units.completed(run_id)))


def summary_line(record: dict) -> str:
    """One line on a trained classifier: its threshold, test rates and artifact."""
    line = f"{record['classifier']}: threshold {record['threshold']:.4g}"
    test = record.get("test")
    if test and test["tpr"]["n"] and test["fpr"]["n"]:
        line += f", test TPR {test['tpr']['rate']:.2f} at FPR {test['fpr']['rate']:.2f}"
    if record.get("artifact"):
        line += f"; artifact {record['artifact']}"
    return line
