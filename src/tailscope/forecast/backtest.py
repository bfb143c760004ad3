"""Backtests: forecast a pool's own worst query from a disjoint evaluation split.

From N queries with known p, each repeat draws m evaluation and n deployment queries
without overlap, forecasts the largest p among the n from the m, and compares with the
actual largest. Errors are signed log10(forecast / actual) of p (base-10 logarithms: the
paper's figures are natural logarithms, see `ln_factor`). Besides the estimators, three
baselines: `log-normal`, `eval-max` (the evaluation set's own maximum, no extrapolation)
and `fixed-slope` (the evaluation maximum moved up by log(n / m) in psi, i.e. a
log-survival slope of -1, that of a Gumbel-distributed psi, uniform p).

How many distinct deployment maxima the splits produced is part of the result: when the
pool is small against n, a few queries are the maximum of every split and the backtest
cannot tell methods apart.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.forecast.data import Observations, log10_p_from_psi
from tailscope.forecast.estimators import ESTIMATORS
from tailscope.forecast.intervals import linear_interval
from tailscope.forecast.tail import K_TAIL, GumbelTail, NotEnoughSignal, linear_fit_rows

BASELINES = ("eval-max", "fixed-slope")
LN_PER_LOG10 = math.log(10)  # multiply a log10 error by this for a natural-log error
# Estimators whose interval coverage a backtest computes unless told otherwise: pot's
# refits 60 maximum-likelihood fits per split (about 0.75 s each on 2 cores).
QUICK_COVERAGE = ("expected", "paper", "log-normal")
DRAWS = 1000  # per interval, as `tailscope forecast` defaults (pot caps its refits at 60)


@dataclass
class MethodScore:
    method: str
    forecasts: int  # repeats with a forecast (the rest had not enough signal)
    no_signal: int
    mean_abs_log10_error: float | None
    median_abs_log10_error: float | None
    mean_signed_log10_error: float | None
    within_10x: float | None
    under_estimated: float | None
    coverage: float | None = None  # share of splits whose interval held the actual maximum
    errors: list[float] = field(default_factory=list)  # signed log10(forecast / actual)


@dataclass
class BacktestResult:
    pool_size: int
    m: int
    n: int
    repeats: int
    k_tail: int
    seed: int
    distinct_actual_maxima: int
    confidence: float
    actual_log10_max: list[float]
    methods: list[MethodScore]

    def to_json(self, with_errors: bool = False) -> dict:
        data = asdict(self)
        if not with_errors:
            for method in data["methods"]:
                method.pop("errors")
            data.pop("actual_log10_max")
        return data

    def method(self, name: str) -> MethodScore:
        return next(s for s in self.methods if s.method == name)


def _check(obs: Observations, m: int, n: int, k_tail: int, repeats: int) -> None:
    if m < 2 or n < 1:
        raise TailscopeError(f"m = {m} and n = {n}: pass --m 2 or more and --n 1 or more")
    if n < m:
        raise TailscopeError(
            f"deployment n = {n} is smaller than evaluation m = {m}: a forecast extrapolates "
            "upward, pass --n N with N >= m"
        )
    if m + n > obs.m:
        raise TailscopeError(
            f"the pool has {obs.m} queries, fewer than m + n = {m + n} needed for disjoint "
            "evaluation and deployment splits: lower --m/--n or elicit a larger pool"
        )
    if not 2 <= k_tail <= m:
        raise TailscopeError(f"k_tail = {k_tail} must lie between 2 and m = {m}")
    if repeats < 1:
        raise TailscopeError(f"repeats = {repeats} must be at least 1")


def backtest(
    obs: Observations,
    m: int,
    n: int,
    *,
    repeats: int = 100,
    k_tail: int = K_TAIL,
    seed: int = 0,
    methods: tuple[str, ...] = tuple(ESTIMATORS) + BASELINES,
    confidence: float = 0.95,
    coverage: tuple[str, ...] = QUICK_COVERAGE,
) -> BacktestResult:
    """Score each method's forecasts of the actual maximum over `repeats` splits, with the
    interval coverage of the estimators in `coverage`."""
    _check(obs, m, n, k_tail, repeats)
    rng = np.random.default_rng(seed)
    evals, actual = [], []
    for _ in range(repeats):
        perm = rng.permutation(obs.m)
        evals.append(obs.psi[perm[:m]])
        actual.append(np.max(obs.psi[perm[m : m + n]]))
    evals_a, actual_psi = np.array(evals), np.array(actual)
    actual_log10 = log10_p_from_psi(actual_psi)
    scores = []
    for name in methods:
        q = forecast_rows(name, evals_a, k_tail, n)
        covered = None
        if name in coverage:
            covered = _coverage(name, evals_a, k_tail, n, confidence, actual_psi)
        scores.append(_score(name, q, actual_log10, covered))
    return BacktestResult(
        pool_size=obs.m,
        m=m,
        n=n,
        repeats=repeats,
        k_tail=k_tail,
        seed=seed,
        distinct_actual_maxima=int(np.unique(actual_psi).size),
        confidence=confidence,
        actual_log10_max=actual_log10.tolist(),
        methods=scores,
    )


def forecast_rows(name: str, evals: np.ndarray, k_tail: int, n: int) -> np.ndarray:
    """Q_psi(n) of each evaluation row by an estimator or a baseline (NaN: no signal)."""
    top = np.max(evals, axis=1)
    top = np.where(np.isfinite(top), top, np.nan)
    if name == "eval-max":
        return top
    if name == "fixed-slope":
        return top + math.log(n / evals.shape[1])
    return ESTIMATORS[name].q_rows(evals, k_tail, np.array([float(n)]))[:, 0]


def _coverage(name, evals, k_tail, n, confidence, actual_psi) -> np.ndarray | None:
    """Per split, whether the forecast's interval held the actual maximum (NaN: no
    interval); None for the baselines, which have no interval."""
    if name not in ESTIMATORS:
        return None
    if name in ("paper", "expected"):
        return _linear_coverage(name, evals, k_tail, n, confidence, actual_psi)
    covered = np.full(evals.shape[0], np.nan)
    for i, row in enumerate(evals):
        bounds = forecast_interval(name, row, k_tail, n, confidence)
        if bounds is not None:
            covered[i] = float(bounds[0] <= actual_psi[i] <= bounds[1])
    return covered


def _linear_coverage(name, evals, k_tail, n, confidence, actual_psi) -> np.ndarray:
    """The pivot interval (forecast/intervals.py) of every split's linear fit at once."""
    a, b, ok = linear_fit_rows(evals, k_tail, name)
    covered = np.full(evals.shape[0], np.nan)
    ns = np.array([float(n)])
    for i in np.flatnonzero(ok):
        model = GumbelTail(a[i], b[i], k_tail, evals.shape[1], 0.0, name)
        low, high = linear_interval(model, ns, DRAWS, confidence, 0)
        covered[i] = float(low[0] <= actual_psi[i] <= high[0])
    return covered


def forecast_interval(
    name: str, row: np.ndarray, k_tail: int, n: int, confidence: float
) -> tuple[float, float] | None:
    """The Q_psi(n) interval `tailscope forecast` gives for one evaluation set: the
    estimator's own (pot: the parametric bootstrap), else the percentile bootstrap over
    resamples (log-normal); None without enough signal."""
    spec = ESTIMATORS[name]
    ns = np.array([float(n)])
    if spec.interval is not None:
        try:
            model = spec.fit(Observations(row, int(np.sum(~np.isfinite(row))), 0, None), k_tail)
        except NotEnoughSignal:
            return None
        low, high = spec.interval(model, ns, DRAWS, confidence, 0)
        return float(low[0]), float(high[0])
    rng = np.random.default_rng(0)
    q = spec.q_rows(row[rng.integers(0, row.size, size=(DRAWS, row.size))], k_tail, ns)[:, 0]
    q = q[~np.isnan(q)]
    if q.size < 2:
        return None
    alpha = 1 - confidence
    low, high = np.quantile(q, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _score(name: str, q_psi: np.ndarray, actual_log10: np.ndarray, covered) -> MethodScore:
    ok = ~np.isnan(q_psi) & np.isfinite(actual_log10)
    if not ok.any():
        return MethodScore(name, 0, int(q_psi.size), None, None, None, None, None)
    signed = log10_p_from_psi(q_psi[ok]) - actual_log10[ok]
    err = np.abs(signed)
    return MethodScore(
        method=name,
        forecasts=int(ok.sum()),
        no_signal=int((~ok).sum()),
        mean_abs_log10_error=float(err.mean()),
        median_abs_log10_error=float(np.median(err)),
        mean_signed_log10_error=float(signed.mean()),
        within_10x=float(np.mean(err <= 1.0)),
        under_estimated=float(np.mean(signed < 0)),
        coverage=None if covered is None else float(np.nanmean(covered[ok])),
        errors=signed.tolist(),
    )
