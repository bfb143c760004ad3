"""A deployment forecast with intervals, or an explicit "not enough signal"."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.forecast.data import Observations, log10_p_from_psi, p_from_psi, psi_from_logp
from tailscope.forecast.diagnostics import diagnose
from tailscope.forecast.estimators import METHODS, estimator
from tailscope.forecast.modes import Embed
from tailscope.forecast.tail import K_TAIL, NotEnoughSignal, top_psi


@dataclass
class MethodForecast:
    method: str
    status: str  # "ok" | "not_enough_signal"
    reason: str | None = None
    params: dict = field(default_factory=dict)
    # worst-query risk at the deployment n: point, interval (bootstrap percentiles)
    q_p: float | None = None
    q_p_low: float | None = None
    q_p_high: float | None = None
    log10_q_p: float | None = None  # exact even when q_p underflows
    frequency_above_tau: float | None = None  # share of deployment queries with p > tau
    frequency_low: float | None = None
    frequency_high: float | None = None
    aggregate_risk: float | None = None  # P(at least one occurrence in n queries)
    aggregate_low: float | None = None
    aggregate_high: float | None = None
    bootstrap_valid: float | None = None  # share of resamples with enough signal
    interval: str = "bootstrap"  # "model": the estimator's own interval (forecast/intervals.py)
    warnings: list[str] = field(default_factory=list)
    curve: dict = field(default_factory=dict)  # n, q_p, low, high (log10 p)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class ForecastResult:
    m: int
    n_positive: int
    n_zero: int
    n_one: int
    one_rule: str | None
    deploy_n: int
    k_tail: int
    tau: float | None
    confidence: float
    bootstrap: int
    observed_max_p: float
    observed_log10_max_p: float
    empirical_aggregate_risk: float  # 1 - prod(1 - p_i) over the evaluation set itself
    methods: list[MethodForecast]
    diagnostics: dict = field(default_factory=dict)  # forecast/diagnostics.py

    def to_json(self) -> dict:
        return asdict(self)

    def method(self, name: str) -> MethodForecast:
        return next(m for m in self.methods if m.method == name)


def _check(obs: Observations, deploy_n: float, k_tail: int, tau, confidence, bootstrap) -> int:
    if not math.isfinite(deploy_n) or deploy_n < obs.m:
        raise TailscopeError(
            f"deployment n = {deploy_n:g} is smaller than the {obs.m} evaluation queries: "
            "a forecast extrapolates upward, pass --deploy N with N >= m"
        )
    if k_tail < 2 or k_tail > obs.m:
        raise TailscopeError(
            f"k_tail = {k_tail} must lie between 2 and the {obs.m} evaluation queries"
        )
    if tau is not None and not 0 < tau < 1:
        raise TailscopeError(f"tau = {tau} must lie in (0, 1)")
    if not 0 < confidence < 1:
        raise TailscopeError(f"confidence {confidence} must lie in (0, 1)")
    if bootstrap < 0:
        raise TailscopeError(f"bootstrap = {bootstrap} must be >= 0")
    finite = obs.psi[np.isfinite(obs.psi)]
    if finite.size >= k_tail and np.ptp(finite) == 0:  # fewer: "not enough signal" says more
        raise TailscopeError(
            f"all {finite.size} queries with p > 0 have the same p = "
            f"{float(p_from_psi(finite[0])):.3g}: there is no tail to fit; take more samples "
            "per query (or exact p) so that queries differ"
        )
    return int(deploy_n)


def forecast(
    obs: Observations,
    deploy_n: float,
    *,
    k_tail: int = K_TAIL,
    tau: float | None = None,
    methods: tuple[str, ...] = METHODS,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    curve_points: int = 25,
    queries: list[str] | None = None,
    embed: Embed | None = None,
) -> ForecastResult:
    """Forecast worst-query risk, frequency above tau and aggregate risk at `deploy_n`,
    with the tail diagnostics (the missed-mode checks need the `queries`, in obs order;
    the embedding-cluster one also an embedder, forecast/modes.py)."""
    n = _check(obs, deploy_n, k_tail, tau, confidence, bootstrap)
    ns = np.unique(np.round(np.logspace(math.log10(obs.m), math.log10(n), curve_points)))
    p = p_from_psi(obs.psi)
    with np.errstate(divide="ignore"):
        log_one_minus = np.log1p(-np.minimum(p, 1 - 1e-16))
    results = [
        _one_method(name, obs, n, ns, k_tail, tau, bootstrap, confidence, seed) for name in methods
    ]
    finite = obs.psi[np.isfinite(obs.psi)]
    top = float(finite.max()) if finite.size else -math.inf
    return ForecastResult(
        m=obs.m,
        n_positive=obs.n_positive,
        n_zero=obs.n_zero,
        n_one=obs.n_one,
        one_rule=obs.one_rule,
        deploy_n=n,
        k_tail=k_tail,
        tau=tau,
        confidence=confidence,
        bootstrap=bootstrap,
        observed_max_p=float(p_from_psi(top)),
        observed_log10_max_p=float(log10_p_from_psi(top)),
        empirical_aggregate_risk=float(-np.expm1(np.sum(log_one_minus))),
        methods=results,
        diagnostics=diagnose(obs, k_tail, confidence, queries, embed).to_json(),
    )


def _one_method(name, obs, n, ns, k_tail, tau, bootstrap, confidence, seed) -> MethodForecast:
    try:
        model = estimator(name).fit(obs, k_tail)
    except NotEnoughSignal as exc:
        return MethodForecast(method=name, status="not_enough_signal", reason=str(exc))
    params = {k: v for k, v in asdict(model).items() if k not in ("name", "warning")}
    q_psi = float(model.q_psi(n))
    result = MethodForecast(method=name, status="ok", params=params)
    if getattr(model, "warning", None):
        result.warnings.append(model.warning)
    result.q_p = float(p_from_psi(q_psi))
    result.log10_q_p = float(log10_p_from_psi(q_psi))
    result.aggregate_risk = _aggregate(model.mean_p(_body(obs.psi, model)), n)
    if tau is not None:
        result.frequency_above_tau = float(np.exp(model.log_survival(psi_from_logp(np.log(tau)))))
    curve_q = model.q_psi(ns)
    result.curve = {"n": ns.tolist(), "log10_q_p": log10_p_from_psi(curve_q).tolist()}
    if bootstrap:
        _bootstrap(result, name, obs, n, ns, k_tail, tau, bootstrap, confidence, seed)
        _model_interval(result, model, name, n, ns, bootstrap, confidence, seed)
    return result


def _body(psi: np.ndarray, model) -> np.ndarray:
    """The evaluation values below a tail model's fitted tail (all of them for log-normal)."""
    k = getattr(model, "k_tail", 0)
    return np.sort(np.where(np.isfinite(psi), psi, -np.inf))[::-1][k:]


def _model_interval(result, model, name, n, ns, draws, confidence, seed) -> None:
    """Where the estimator has an interval that covers under its model, it replaces the
    bootstrap's for the worst-query forecast."""
    interval = estimator(name).interval
    if interval is None:
        return
    low, high = interval(model, np.append(ns, n), draws, confidence, seed)
    result.q_p_low = float(p_from_psi(low[-1]))
    result.q_p_high = float(p_from_psi(high[-1]))
    result.curve["log10_low"] = log10_p_from_psi(low[:-1]).tolist()
    result.curve["log10_high"] = log10_p_from_psi(high[:-1]).tolist()
    result.interval = "model"


def _refit(name: str, row: np.ndarray, k_tail: int):
    finite = np.isfinite(row)
    obs = Observations(row, int(np.sum(~finite)), 0, None)
    try:
        return estimator(name).fit(obs, k_tail)
    except NotEnoughSignal:
        return None


def _aggregate(mean_p: float, n: int) -> float:
    return float(-np.expm1(n * np.log1p(-min(mean_p, 1 - 1e-16))))


def _integrals(name, row, k_tail, tau, n, freq: list, agg: list) -> None:
    """One resample's frequency above tau and aggregate risk, where its refit has signal."""
    model = _refit(name, row, k_tail)
    if model is None:
        return
    if tau is not None:
        freq.append(float(np.exp(model.log_survival(psi_from_logp(np.log(tau))))))
    agg.append(_aggregate(model.mean_p(_body(row, model)), n))


def _bootstrap(result, name, obs, n, ns, k_tail, tau, draws, confidence, seed) -> None:
    """Percentile intervals over resamples of the evaluation set (with replacement): for
    frequency and aggregate risk always, for the worst query only where the estimator has
    no interval of its own (they under-cover there: a resample never exceeds the maximum)."""
    rng = np.random.default_rng(seed)
    alpha = 1 - confidence
    own_interval = estimator(name).interval is not None
    rows = obs.psi[rng.integers(0, obs.m, size=(draws, obs.m))]
    # Frequency and aggregate risk need a refit and an integral per resample: a subset.
    freq, agg = [], []
    subset = rows[: estimator(name).refits]
    for row in subset:
        _integrals(name, row, k_tail, tau, n, freq, agg)
    result.bootstrap_valid = len(agg) / len(subset)
    if freq:
        result.frequency_low, result.frequency_high = _bounds(freq, alpha)
    if agg:
        result.aggregate_low, result.aggregate_high = _bounds(agg, alpha)
    if own_interval:
        return
    q_all = estimator(name).q_rows(rows, k_tail, np.append(ns, n))
    valid = ~np.isnan(q_all[:, -1])
    result.bootstrap_valid = float(valid.mean())
    if valid.sum() < 2:
        return
    lo_hi = np.quantile(log10_p_from_psi(q_all[valid]), [alpha / 2, 1 - alpha / 2], axis=0)
    result.q_p_low = float(10 ** lo_hi[0, -1])
    result.q_p_high = float(10 ** lo_hi[1, -1])
    result.curve["log10_low"] = lo_hi[0, :-1].tolist()
    result.curve["log10_high"] = lo_hi[1, :-1].tolist()


def _bounds(values: list[float], alpha: float) -> tuple[float, float]:
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


__all__ = ["ForecastResult", "MethodForecast", "forecast", "top_psi"]
