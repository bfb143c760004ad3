"""Binomial confidence intervals for sampled elicitation probabilities, and the Rogan–Gladen
correction of a hit rate measured through an imperfect detector.

Wilson (score) and Jeffreys (Beta(1/2, 1/2) posterior) intervals both behave at 0 and k
hits, where the plain Wald interval collapses to a point. Jeffreys uses the convention of
Brown, Cai & DasGupta (2001): the lower bound is exactly 0 at 0 hits and the upper bound
exactly 1 at k hits.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats

IntervalMethod = Literal["wilson", "jeffreys"]
INTERVAL_METHODS = ("wilson", "jeffreys")


def binomial_interval(
    hits, trials, confidence: float = 0.95, method: IntervalMethod = "wilson"
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided interval (low, high) for the success probability, elementwise."""
    hits = np.asarray(hits, dtype=float)
    trials = np.asarray(trials, dtype=float)
    if np.any(trials <= 0):
        raise ValueError("every query needs at least one sample (k >= 1)")
    if np.any((hits < 0) | (hits > trials)):
        raise ValueError("hits must lie in [0, k]")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence} must lie in (0, 1)")
    alpha = 1 - confidence
    if method == "wilson":
        z = stats.norm.isf(alpha / 2)
        phat = hits / trials
        denom = 1 + z**2 / trials
        centre = (phat + z**2 / (2 * trials)) / denom
        half = z / denom * np.sqrt(phat * (1 - phat) / trials + z**2 / (4 * trials**2))
        low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
        low = np.where(hits == 0, 0.0, low)
        high = np.where(hits == trials, 1.0, high)
    elif method == "jeffreys":
        a, b = hits + 0.5, trials - hits + 0.5
        low = np.where(hits == 0, 0.0, stats.beta.ppf(alpha / 2, a, b))
        high = np.where(hits == trials, 1.0, stats.beta.isf(alpha / 2, a, b))
    else:
        raise ValueError(f"unknown interval method {method!r}: use wilson or jeffreys")
    return low, high


def jeffreys_median(hits, trials) -> np.ndarray:
    """Posterior median under the Jeffreys prior: a point estimate strictly inside (0, 1),
    used where the plain estimate hits/k is exactly 0 or 1 but a finite value is needed."""
    hits = np.asarray(hits, dtype=float)
    trials = np.asarray(trials, dtype=float)
    return stats.beta.median(hits + 0.5, trials - hits + 0.5)


def decided(low, high, threshold: float) -> np.ndarray:
    """True where the interval lies wholly above or wholly below `threshold`."""
    low, high = np.asarray(low), np.asarray(high)
    return (low > threshold) | (high < threshold)


def rogan_gladen(observed, sensitivity, specificity) -> np.ndarray:
    """The true rate behind an observed positive rate, given the detector's sensitivity
    (recall) and specificity (1 - FPR): (observed + sp - 1) / (se + sp - 1), clipped to
    [0, 1]. NaN where se + sp <= 1 (a detector no better than chance says nothing)."""
    observed, se, sp = (np.asarray(v, dtype=float) for v in (observed, sensitivity, specificity))
    informedness = se + sp - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (observed + sp - 1) / informedness
    return np.where(informedness > 0, np.clip(rate, 0, 1), np.nan)


def rogan_gladen_interval(
    hits: int,
    trials: int,
    confusion: tuple[int, int, int, int],
    confidence: float = 0.95,
    draws: int = 20_000,
    seed: int = 0,
) -> tuple[float, float]:
    """An interval for the corrected rate that carries the uncertainty of the observed rate
    and of both error rates: each is drawn from its Jeffreys posterior (the observed rate
    from `hits` of `trials`, sensitivity from TP of TP + FN, specificity from TN of TN + FP;
    `confusion` is (tp, fp, fn, tn) from labelled items) and corrected, draw by draw. Draws
    where the detector comes out no better than chance are dropped; NaN where all are."""
    tp, fp, fn, tn = confusion
    rng = np.random.default_rng(seed)
    observed = rng.beta(hits + 0.5, trials - hits + 0.5, draws)
    se = rng.beta(tp + 0.5, fn + 0.5, draws)
    sp = rng.beta(tn + 0.5, fp + 0.5, draws)
    rates = rogan_gladen(observed, se, sp)
    rates = rates[np.isfinite(rates)]
    if rates.size == 0:
        return float("nan"), float("nan")
    alpha = 1 - confidence
    low, high = np.quantile(rates, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
