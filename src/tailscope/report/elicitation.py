"""The report section of an elicitation run: its forecast table, the forecast plot and the
queries most likely to elicit the behavior (escaped: queries and replies are untrusted)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tailscope.errors import TailscopeError
from tailscope.forecast.data import elicitation_observations
from tailscope.forecast.estimators import DEFAULT_ESTIMATOR
from tailscope.forecast.forecast import ForecastResult, forecast
from tailscope.forecast.plot import forecast_figure
from tailscope.report import plots
from tailscope.report.blocks import band, behavior_label, esc, figure, num, run_section
from tailscope.store import Elicitation, Run, Workspace

DEPLOY_N = 1_000_000
TOP_QUERIES = 10
MAX_P_COLUMN = "max elicitation p"
FORECAST_COLUMN = f"forecast: worst-query p at n = 10^{round(math.log10(DEPLOY_N))}"


@dataclass
class Analysis:
    """One elicitation run as the report shows it: its rows and, where the data allow, the
    forecast (else why not)."""

    run: Run
    label: str
    rows: list[Elicitation]
    result: ForecastResult | None = None
    problem: str | None = None


def analyse(ws: Workspace, run: Run) -> Analysis:
    rows = ws.elicitations.list(run.id)
    analysis = Analysis(run, behavior_label(run), rows)
    if rows:
        obs = elicitation_observations(rows)
        try:
            analysis.result = forecast(
                obs,
                max(DEPLOY_N, obs.m),
                bootstrap=300,
                seed=run.seed,
                queries=[r.query for r in rows],
            )
        except TailscopeError as exc:  # too few queries to fit: say so, keep the report
            analysis.problem = str(exc)
    return analysis


def summary_cells(analysis: Analysis) -> dict[str, str]:
    if not analysis.rows:
        return {}
    max_p = max(r.p for r in analysis.rows if r.p is not None)
    cells = {MAX_P_COLUMN: f"{max_p:.3g} <span class='muted'>({len(analysis.rows)} queries)</span>"}
    default = analysis.result.method(DEFAULT_ESTIMATOR) if analysis.result else None
    if default is not None and default.ok:
        point = f"{default.q_p:.3g}" if default.q_p else f"10^{default.log10_q_p:.1f}"
        cells[FORECAST_COLUMN] = f"{point} {band(default.q_p_low, default.q_p_high)}"
    else:
        why = analysis.problem or (default.reason if default else "no forecast")
        cells[FORECAST_COLUMN] = f"<span class='muted'>not enough signal: {esc(why)}</span>"
    return cells


def elicitation_section(analysis: Analysis) -> str:
    run, rows, result = analysis.run, analysis.rows, analysis.result
    parts = [
        f"<p>Behavior <b>{esc(analysis.label)}</b>, method {esc(run.config.get('method'))}, "
        f"{len(rows)} queries elicited.</p>"
    ]
    if not rows:
        parts.append("<p class='empty'>No per-query results yet.</p>")
        return run_section(run, "Elicitation", parts)
    parts.append("<h3>Forecast</h3>")
    if result is None:
        parts.append(f"<p class='empty'>not enough signal: {esc(analysis.problem)}</p>")
    else:
        obs = elicitation_observations(rows)
        parts.append(_forecast_table(result))
        png = plots.png(forecast_figure(obs, result, f"{analysis.label}: m = {obs.m}"))
        parts.append(figure(png, "forecast"))
    parts += ["<h3>Queries most likely to elicit it</h3>", _top_queries(rows)]
    return run_section(run, "Elicitation", parts)


def _forecast_table(result: ForecastResult) -> str:
    pct = round(100 * result.confidence)
    head = (
        f"<tr><th>method</th><th>worst-query p at n = {result.deploy_n:,}</th>"
        f"<th>{pct}% interval</th><th>P(at least one in n)</th><th>{pct}% interval</th></tr>"
    )
    body = []
    for m in result.methods:
        if not m.ok:
            body.append(
                f"<tr><td>{esc(m.method)}</td><td colspan='4' class='muted'>not enough signal: "
                f"{esc(m.reason)}</td></tr>"
            )
            continue
        q = f"{m.q_p:.3g}" if m.q_p else f"10^{m.log10_q_p:.1f}"
        body.append(
            f"<tr><td>{esc(m.method)}</td><td class='num'>{esc(q)}</td>"
            f"<td class='num'>{band(m.q_p_low, m.q_p_high)}</td>"
            f"<td class='num'>{num(m.aggregate_risk)}</td>"
            f"<td class='num'>{band(m.aggregate_low, m.aggregate_high)}</td></tr>"
        )
    note = (
        f"<p class='muted'>m = {result.m} evaluation queries, {result.n_positive} with p &gt; 0"
        f" ({result.n_zero} with p = 0); observed max p = {result.observed_max_p:.3g}. "
        "Worst-query intervals of the Gumbel-type and peaks-over-threshold fits come from "
        "their fitted tail (docs/methods/forecasting.md), the log-normal's and all "
        f"aggregate-risk intervals from {result.bootstrap} resamples of the evaluation set.</p>"
    )
    table = f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
    return table + note + _diagnostics(result.diagnostics)


def _diagnostics(diag: dict) -> str:
    """Tail shape, local slopes and warnings (forecast/diagnostics.py), escaped."""
    if not diag:
        return ""
    shape = "not tested" if diag["xi"] is None else f"xi = {diag['xi']:.2f}"
    if diag["xi_low"] is not None:
        shape += f" [{diag['xi_low']:.2f}, {diag['xi_high']:.2f}], {diag['shape']}"
    slopes = ", ".join(f"ranks {w['ranks']}: {w['slope']:.3g}" for w in diag["window_slopes"])
    parts = [
        f"<p class='muted'>Tail shape (generalized Pareto over the top {diag['k_shape']}): "
        f"{esc(shape)}. Slope of log-survival by rank window: {esc(slopes or '-')}.</p>"
    ]
    parts += [f"<p><b>warning:</b> {esc(w)}</p>" for w in diag["warnings"]]
    return "".join(parts)


def _top_queries(rows: list[Elicitation]) -> str:
    def key(r: Elicitation) -> float:
        if r.logp is not None:
            return r.logp
        return math.log(r.p) if r.p > 0 else -math.inf

    body = []
    for r in sorted(rows, key=key, reverse=True)[:TOP_QUERIES]:
        if r.method == "exact":
            interval, counts, example = "exact", "-", ""
        else:
            interval, counts = band(r.low, r.high), f"{r.hits}/{r.k}"
            example = (r.examples or [""])[0]
        body.append(
            f"<tr><td>{esc(r.query)}</td><td class='num'>{r.p:.3g}</td>"
            f"<td class='num'>{interval}</td><td class='num'>{counts}</td>"
            f"<td>{esc(example)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>query</th><th>p</th><th>interval</th><th>hits/k</th>"
        f"<th>example reply</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
