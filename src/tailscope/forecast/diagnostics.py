"""Is the tail Gumbel-type, and does it rest on one mode? Diagnostics shown with forecasts.

- Tail linearity: the least-squares slope of log-survival (expected plotting positions)
  on psi over consecutive rank windows of k_tail values. A Gumbel-type tail has one slope;
  a heavier tail flattens toward the top (the top window's slope is the shallowest), a
  lighter one steepens.
- Generalized Pareto shape xi above the top k_shape = max(k_tail, sqrt(m)) values, with
  its asymptotic interval: an interval that excludes 0 says the tail is heavier (xi > 0)
  or lighter (xi < 0) than Gumbel-type, and which way the linear forecasts will err.
- Normal body: do the top k_shape values follow a normal fitted to the whole set? Their
  mean excess over the (k_shape+1)-th value, with its exponential-tail interval, against
  the excess that normal predicts and the one a Gumbel of the same mean and variance
  predicts. A tail that matches the normal and not the Gumbel keeps steepening past the
  data (a normal's log-survival bends down), which no GPD shape interval at these sizes
  detects, and the linear forecasts over-estimate it: the fair-pool backtest's case
  (docs/benchmarks.md).
- Missed mode (forecast/modes.py): if most of the top k_tail queries share a template
  (their first or last three words) or, when an embedder is given, one embedding cluster,
  that is much rarer in the whole set, the tail rests on one mode.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import special, stats

from tailscope.forecast.data import Observations
from tailscope.forecast.modes import Embed, embedding_mode, one_mode, top_indices
from tailscope.forecast.pot import fit_pot
from tailscope.forecast.tail import NotEnoughSignal, fit_lines, tie_averaged_positions

WINDOWS = 4
TEMPLATE_WORDS = 3


@dataclass
class TailDiagnostics:
    k_shape: int
    xi: float | None = None
    xi_low: float | None = None
    xi_high: float | None = None
    shape: str = "unknown"  # gumbel-type | heavier | lighter | unknown
    window_slopes: list[dict] = field(default_factory=list)  # ranks "i-j", slope
    normal_body: dict | None = None  # mean excess of the top k_shape, its interval, predictions
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def diagnose(
    obs: Observations,
    k_tail: int,
    confidence: float = 0.95,
    queries: list[str] | None = None,
    embed: Embed | None = None,
) -> TailDiagnostics:
    """The shape and linearity checks; with the queries, the template check; with an
    embedder too, the embedding-cluster check."""
    k_shape = max(k_tail, round(math.sqrt(obs.m)))
    diag = TailDiagnostics(k_shape=k_shape, window_slopes=window_slopes(obs, k_tail))
    _shape(diag, obs, k_shape, confidence)
    _normal_body(diag, obs, k_shape, confidence)
    if queries is not None:
        modes = [missed_mode(obs, queries, k_tail)]
        if embed is not None:
            modes.append(embedding_mode(obs, queries, k_tail, embed))
        diag.warnings += [mode for mode in modes if mode]
    return diag


def window_slopes(obs: Observations, width: int) -> list[dict]:
    ordered = np.sort(obs.psi[np.isfinite(obs.psi)])[::-1]
    slopes = []
    for w in range(WINDOWS):
        x = ordered[w * width : (w + 1) * width]
        if x.size < width or np.ptp(x) == 0:
            break
        y = tie_averaged_positions(obs.psi[None, :], x[None, :], "expected")
        a, _, _ = fit_lines(x[None, :], y)
        slopes.append({"ranks": f"{w * width + 1}-{(w + 1) * width}", "slope": float(a[0])})
    return slopes


def _shape(diag: TailDiagnostics, obs: Observations, k_shape: int, confidence: float) -> None:
    try:
        model = fit_pot(obs, min(k_shape, obs.n_positive - 1))
    except NotEnoughSignal as exc:
        diag.warnings.append(f"tail shape not tested: {exc}")
        return
    diag.xi = model.xi
    if model.warning:
        diag.warnings.append(f"tail shape not tested: {model.warning}")
    interval = model.shape_interval(confidence)
    if interval is None:
        return
    diag.xi_low, diag.xi_high = interval
    pct = round(100 * confidence)
    where = f"generalized Pareto shape xi = {model.xi:.2f} [{pct}%: {interval[0]:.2f}, "
    where += f"{interval[1]:.2f}] over the top {model.k_tail}"
    if interval[0] > 0:
        diag.shape = "heavier"
        diag.warnings.append(
            f"the tail is heavier than Gumbel-type ({where}): the expected and paper "
            "forecasts will likely under-estimate the worst query; pot follows the tail"
        )
    elif interval[1] < 0:
        diag.shape = "lighter"
        diag.warnings.append(
            f"the tail is lighter than Gumbel-type ({where}): the expected and paper "
            "forecasts will likely over-estimate the worst query; pot follows the tail"
        )
    else:
        diag.shape = "gumbel-type"


def _normal_body(diag: TailDiagnostics, obs: Observations, k: int, confidence: float) -> None:
    ordered = np.sort(obs.psi[np.isfinite(obs.psi)])[::-1]
    if ordered.size < 2 * k or np.ptp(ordered[: k + 1]) == 0:
        return
    u, mean, sd = ordered[k], ordered.mean(), ordered.std()
    excess = float(np.mean(ordered[:k] - u))
    # 2k * mean / scale is chi-squared(2k) when the excesses are exponential
    chi = stats.chi2.ppf([1 - (1 - confidence) / 2, (1 - confidence) / 2], 2 * k)
    low, high = 2 * k * excess / chi
    z = (u - mean) / sd
    normal = sd * (math.exp(stats.norm.logpdf(z) - stats.norm.logsf(z)) - z)
    # Gumbel with this mean and sd: E[X - u | X > u] = beta Ein(w) / (1 - e^-w)
    beta = sd * math.sqrt(6) / math.pi
    w = math.exp(-(u - (mean - np.euler_gamma * beta)) / beta)
    gumbel = beta * (np.euler_gamma + math.log(w) + special.exp1(w)) / -math.expm1(-w)
    diag.normal_body = {
        "k": k,
        "mean_excess": excess,
        "low": float(low),
        "high": float(high),
        "normal": float(normal),
        "gumbel": float(gumbel),
    }
    if low <= normal <= high and not low <= gumbel <= high:
        diag.warnings.append(
            f"the top {k} follow a normal fitted to the whole set (mean excess {excess:.3g} "
            f"[{low:.3g}, {high:.3g}]; a normal predicts {normal:.3g}, a Gumbel {gumbel:.3g}):"
            " if psi is normal its tail keeps steepening, and the expected and paper "
            "forecasts will likely over-estimate the worst query; log-normal follows it"
        )


def _template(query: str, end: str) -> str:
    words = query.split()
    return " ".join(words[:TEMPLATE_WORDS] if end == "start" else words[-TEMPLATE_WORDS:])


def missed_mode(obs: Observations, queries: list[str], k_tail: int) -> str | None:
    """A warning when the top queries share one template much rarer in the whole set."""
    if len(queries) != obs.m or obs.n_positive < k_tail:
        return None
    order = top_indices(obs, k_tail)
    for end in ("start", "end"):
        template, count = Counter(_template(queries[i], end) for i in order).most_common(1)[0]
        overall = sum(_template(q, end) == template for q in queries) / len(queries)
        if one_mode(count / k_tail, overall):
            verb = "start" if end == "start" else "end"
            return (
                f"the tail rests on one mode: {count} of the top {k_tail} queries {verb} "
                f"with {template!r} ({100 * overall:.0f}% of all queries); the forecast "
                "extrapolates that mode, and a mode the evaluation set missed cannot show"
            )
    return None
