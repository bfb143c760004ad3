"""Thresholds calibrated on held-out permitted data to a false-positive budget.

A guard acts when its score is at or above the threshold. Given n held-out permitted
scores and a budget α (default 1%), the threshold is the lowest one that flags at most
⌊α n⌋ of them: just above the (⌊α n⌋ + 1)-th largest score. On fresh permitted data from
the same distribution the false-positive rate is then at most α up to binomial noise
(with ties or few examples it is lower: the rule never flags more than allowed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.stats import binomial_interval

DEFAULT_FP_BUDGET = 0.01


@dataclass(frozen=True)
class Calibration:
    threshold: float
    budget: float
    n_permitted: int
    flagged: int  # permitted calibration examples at or above the threshold

    @property
    def false_positive_rate(self) -> float:
        return self.flagged / self.n_permitted


def check_budget(budget: float) -> None:
    if not 0.0 <= budget < 1.0:
        raise TailscopeError(
            f"false-positive budget {budget} is outside [0, 1): give a share, e.g. 0.01 for 1%"
        )


def calibrate_threshold(permitted_scores: Sequence[float], budget: float = DEFAULT_FP_BUDGET):
    """The lowest threshold in [0, 1] that flags at most ⌊budget · n⌋ permitted scores."""
    check_budget(budget)
    scores = np.sort(np.asarray(permitted_scores, dtype=np.float64))[::-1]
    if scores.size == 0:
        raise TailscopeError("no permitted calibration examples: generate more guard data")
    allowed = math.floor(budget * scores.size)
    if allowed >= scores.size:
        threshold = 0.0
    else:
        threshold = min(float(np.nextafter(scores[allowed], np.inf)), 1.0)
    flagged = int((scores >= threshold).sum())
    return Calibration(threshold, budget, int(scores.size), flagged)


def rate_with_interval(hits: int, n: int) -> dict:
    """A share with its 95% Wilson interval, as the records and reports show it."""
    if not n:
        return {"hits": 0, "n": 0, "rate": None, "low": 0.0, "high": 1.0}
    low, high = binomial_interval(hits, n)
    return {"hits": hits, "n": n, "rate": hits / n, "low": float(low), "high": float(high)}
