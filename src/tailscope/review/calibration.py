"""Detector calibration from human labels: the error rates at the detector's threshold with
intervals, a recalibrated score (isotonic or Platt), the threshold that reaches a precision or
recall the user asks for, and the run's hit rate corrected for the detector's errors."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.review.items import ReviewItem
from tailscope.stats import binomial_interval, rogan_gladen, rogan_gladen_interval
from tailscope.store import Label

MIN_LABELLED = 20
MIN_PER_CLASS = 3  # each of present and absent, so both error rates and a fit exist
CALIBRATORS = ("isotonic", "platt")
GRID = tuple(round(0.1 * i, 1) for i in range(11))


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int
    value: float | None  # None where the denominator is 0
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Target:
    metric: str  # precision | recall
    wanted: float
    threshold: float | None  # None where no threshold reaches it on these labels
    precision: float | None
    recall: float | None


@dataclass
class Calibration:
    detector: str
    threshold: float
    labelled: int
    confusion: tuple[int, int, int, int]  # tp, fp, fn, tn at the current threshold
    rates: dict[str, Rate]  # precision, recall, fpr, fnr
    method: str
    curve: list[tuple[float, float]]  # (score, calibrated P(present))
    brier_raw: float
    brier_calibrated: float  # cross-validated, so it is not flattered by the fit
    hit_rate: Rate  # the machine's verdicts over every item of the run
    corrected: tuple[float, float, float]  # Rogan–Gladen rate, low, high (NaN: undefined)
    target: Target | None = None
    orders: dict[str, int] = field(default_factory=dict)  # labels used, by queue order


def truths(items: list[ReviewItem], labels: list[Label]) -> dict[tuple, bool]:
    """Each labelled item's human verdict: the majority of its present/absent labels (unsure
    labels and ties give none)."""
    votes: dict[tuple, Counter] = defaultdict(Counter)
    for lb in labels:
        if lb.label != "unsure":
            votes[(lb.run_id, lb.item_kind, lb.item_idx)][lb.label] += 1
    keys = {item.key for item in items}
    return {
        key: count["present"] > count["absent"]
        for key, count in votes.items()
        if key in keys and count["present"] != count["absent"]
    }


def calibrate(
    items: list[ReviewItem],
    labels: list[Label],
    method: str = "isotonic",
    target: tuple[str, float] | None = None,
    confidence: float = 0.95,
    orders: list[str] | None = None,
) -> list[Calibration]:
    """One calibration per detector the items were scored by. `orders`: use only the labels
    gathered in these queue orders (a queue ordered by uncertainty over-represents hard
    items, so error rates measured on it are biased)."""
    if method not in CALIBRATORS:
        raise TailscopeError(f"unknown calibration method {method!r}: use isotonic or platt")
    if orders:
        labels = [lb for lb in labels if (lb.queue_order or "unrecorded") in orders]
    by_detector: dict[str, list[ReviewItem]] = defaultdict(list)
    for item in items:
        by_detector[item.behavior.detector].append(item)
    verdicts = truths(items, labels)
    results = []
    for _, group in sorted(by_detector.items()):
        result = _calibrate_one(group, verdicts, method, target, confidence)
        keys = {item.key for item in group}
        used = [lb for lb in labels if (lb.run_id, lb.item_kind, lb.item_idx) in keys]
        result.orders = dict(Counter(lb.queue_order or "unrecorded" for lb in used))
        results.append(result)
    return results


def _calibrate_one(items, verdicts, method, target, confidence) -> Calibration:
    labelled = [item for item in items if item.key in verdicts]
    y = np.array([verdicts[item.key] for item in labelled], dtype=int)
    _require_enough(items[0].behavior.detector, y)
    scores = np.array([item.score for item in labelled], dtype=float)
    flagged = np.array([item.flagged for item in labelled], dtype=bool)
    tp, fp = int(np.sum(flagged & (y == 1))), int(np.sum(flagged & (y == 0)))
    fn, tn = int(np.sum(~flagged & (y == 1))), int(np.sum(~flagged & (y == 0)))
    hits = sum(item.flagged for item in items)
    corrected = float(rogan_gladen(hits / len(items), _ratio(tp, tp + fn), _ratio(tn, tn + fp)))
    low, high = rogan_gladen_interval(hits, len(items), (tp, fp, fn, tn), confidence)
    fit = _fitted(method, scores, y)
    return Calibration(
        detector=items[0].behavior.detector,
        threshold=items[0].behavior.threshold,
        labelled=len(labelled),
        confusion=(tp, fp, fn, tn),
        rates={
            "precision": rate(tp, tp + fp, confidence),
            "recall": rate(tp, tp + fn, confidence),
            "fpr": rate(fp, fp + tn, confidence),
            "fnr": rate(fn, fn + tp, confidence),
        },
        method=method,
        curve=[(s, float(p)) for s, p in zip(GRID, fit(np.array(GRID)), strict=True)],
        brier_raw=float(np.mean((np.clip(scores, 0, 1) - y) ** 2)),
        brier_calibrated=float(np.mean((_cross_validated(method, scores, y) - y) ** 2)),
        hit_rate=rate(hits, len(items), confidence),
        corrected=(corrected, low, high),
        target=threshold_for(scores, y, *target) if target else None,
    )


def _require_enough(detector: str, y: np.ndarray) -> None:
    present, absent = int(y.sum()), int(len(y) - y.sum())
    if len(y) < MIN_LABELLED or min(present, absent) < MIN_PER_CLASS:
        raise TailscopeError(
            f"detector {detector} has {len(y)} labelled items ({present} present, {absent} "
            f"absent); calibration needs at least {MIN_LABELLED}, with at least "
            f"{MIN_PER_CLASS} of each: label more with `tailscope review`"
        )


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def rate(numerator: int, denominator: int, confidence: float) -> Rate:
    if denominator == 0:
        return Rate(numerator, 0, None, None, None)
    low, high = binomial_interval(numerator, denominator, confidence)
    return Rate(numerator, denominator, numerator / denominator, float(low), float(high))


def _fitted(method: str, scores: np.ndarray, y: np.ndarray):
    """A function from raw scores to calibrated P(present), fitted on these labels."""
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        return model.predict
    from sklearn.linear_model import LogisticRegression

    # Platt scaling is a plain logistic fit: regularised, it could not reach a steep slope.
    model = LogisticRegression(C=1e6).fit(scores.reshape(-1, 1), y)
    return lambda s: model.predict_proba(np.asarray(s).reshape(-1, 1))[:, 1]


def _cross_validated(method: str, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=min(5, int(min(y.sum(), len(y) - y.sum()))))
    predicted = np.empty(len(y))
    for train, test in folds.split(scores.reshape(-1, 1), y):
        predicted[test] = _fitted(method, scores[train], y[train])(scores[test])
    return predicted


def threshold_for(scores: np.ndarray, y: np.ndarray, metric: str, wanted: float) -> Target:
    """precision: the lowest threshold whose precision on the labels reaches `wanted` (so
    the most recall); recall: the highest whose recall reaches it (so the most precision)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    values = precision if metric == "precision" else recall
    reaching = np.flatnonzero(values >= wanted)
    if reaching.size == 0:
        return Target(metric, wanted, None, None, None)
    best = reaching[0] if metric == "precision" else reaching[-1]
    return Target(
        metric, wanted, float(thresholds[best]), float(precision[best]), float(recall[best])
    )
