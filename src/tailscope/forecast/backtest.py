"""Backtests: forecast a pool's own worst query from a disjoint evaluation split.

From N queries with known p, each repeat draws m evaluation and n deployment queries
without overlap, forecasts the largest p among the n from the m, and compares with the
actual largest. Errors are in log10 p, as in Jones et al. (2025).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.forecast.data import Observations, log10_p_from_psi
from tailscope.forecast.tail import K_TAIL, gumbel_q_psi_batch, lognormal_q_psi_batch


@dataclass
class MethodScore:
    method: str
    forecasts: int  # repeats with a forecast (the rest had not enough signal)
    no_signal: int
    mean_abs_log10_error: float | None
    median_abs_log10_error: float | None
    within_10x: float | None
    under_estimated: float | None
    errors: list[float] = field(default_factory=list)  # signed log10(forecast / actual)


@dataclass
class BacktestResult:
    pool_size: int
    m: int
    n: int
    repeats: int
    k_tail: int
    seed: int
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


def backtest(
    obs: Observations,
    m: int,
    n: int,
    *,
    repeats: int = 100,
    k_tail: int = K_TAIL,
    seed: int = 0,
) -> BacktestResult:
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
    rng = np.random.default_rng(seed)
    evals, actual = [], []
    for _ in range(repeats):
        perm = rng.permutation(obs.m)
        evals.append(obs.psi[perm[:m]])
        actual.append(np.max(obs.psi[perm[m : m + n]]))
    evals_a = np.array(evals)
    actual_log10 = log10_p_from_psi(np.array(actual))
    ns = np.array([float(n)])
    forecasts = {
        "gumbel-tail": gumbel_q_psi_batch(evals_a, k_tail, ns)[:, 0],
        "log-normal": lognormal_q_psi_batch(evals_a, ns)[:, 0],
    }
    scores = [_score(name, q, actual_log10) for name, q in forecasts.items()]
    return BacktestResult(
        pool_size=obs.m,
        m=m,
        n=n,
        repeats=repeats,
        k_tail=k_tail,
        seed=seed,
        actual_log10_max=actual_log10.tolist(),
        methods=scores,
    )


def _score(name: str, q_psi: np.ndarray, actual_log10: np.ndarray) -> MethodScore:
    ok = ~np.isnan(q_psi) & np.isfinite(actual_log10)
    signed = log10_p_from_psi(q_psi[ok]) - actual_log10[ok]
    if not ok.any():
        return MethodScore(name, 0, int(q_psi.size), None, None, None, None)
    err = np.abs(signed)
    return MethodScore(
        method=name,
        forecasts=int(ok.sum()),
        no_signal=int((~ok).sum()),
        mean_abs_log10_error=float(err.mean()),
        median_abs_log10_error=float(np.median(err)),
        within_10x=float(np.mean(err <= 1.0)),
        under_estimated=float(np.mean(signed < 0)),
        errors=signed.tolist(),
    )
