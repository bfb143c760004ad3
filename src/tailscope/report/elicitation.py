"""The report section of an elicitation run: its forecast table, the forecast plot and the
queries most likely to elicit the behavior (escaped: queries and replies are untrusted)."""

from __future__ import annotations

import math

from tailscope.report import plots

DEPLOY_N = 1_000_000
TOP_QUERIES = 10


def elicitation_section(ws, run, esc, details_html: str, badge_html: str) -> str:
    from tailscope.elicit.session import rows_to_observations
    from tailscope.forecast.forecast import forecast
    from tailscope.forecast.plot import forecast_figure

    rows = ws.elicitations(run.id)
    behavior = run.config.get("behavior", {})
    label = behavior.get("name", "?") + "".join(
        f" {k}={v}" for k, v in behavior.get("params", {}).items()
    )
    parts = [
        f"<section class='run' id='run-{esc(run.id)}'>",
        f"<h2>Elicitation {esc(run.id)} {badge_html}</h2>",
        f"<p>Behavior <b>{esc(label)}</b>, method {esc(run.config.get('method'))}, "
        f"{len(rows)} queries elicited.</p>",
        details_html,
    ]
    if not rows:
        parts += ["<p class='empty'>No per-query results yet.</p>", "</section>"]
        return "\n".join(parts)
    obs = rows_to_observations(rows)
    n = max(DEPLOY_N, obs.m)
    result = forecast(obs, n, bootstrap=300, seed=run.seed)
    parts += ["<h3>Forecast</h3>", _forecast_table(result, esc)]
    png = plots._png(forecast_figure(obs, result, f"{label}: m = {obs.m}"))
    parts.append(f"<figure><img alt='forecast' src='data:image/png;base64,{png}'></figure>")
    parts += ["<h3>Queries most likely to elicit it</h3>", _top_queries(rows, esc)]
    parts.append("</section>")
    return "\n".join(parts)


def _forecast_table(result, esc) -> str:
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
            f"<td class='num'>{_band(m.q_p_low, m.q_p_high)}</td>"
            f"<td class='num'>{_num(m.aggregate_risk)}</td>"
            f"<td class='num'>{_band(m.aggregate_low, m.aggregate_high)}</td></tr>"
        )
    note = (
        f"<p class='muted'>m = {result.m} evaluation queries, {result.n_positive} with p &gt; 0"
        f" ({result.n_zero} with p = 0); observed max p = {result.observed_max_p:.3g}. "
        f"Intervals: {result.bootstrap} bootstrap resamples of the evaluation set.</p>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>{note}"


def _num(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _band(low, high) -> str:
    return "-" if low is None else f"[{low:.3g}, {high:.3g}]"


def _top_queries(rows: list[dict], esc) -> str:
    def key(r):
        if r.get("logp") is not None:
            return r["logp"]
        return math.log(r["p"]) if r["p"] > 0 else -math.inf

    top = sorted(rows, key=key, reverse=True)[:TOP_QUERIES]
    body = []
    for r in top:
        if r["method"] == "exact":
            interval, counts, example = "exact", "-", ""
        else:
            interval = f"[{r['low']:.3g}, {r['high']:.3g}]"
            counts = f"{r['hits']}/{r['k']}"
            example = (r.get("examples") or [""])[0]
        body.append(
            f"<tr><td>{esc(r['query'])}</td><td class='num'>{r['p']:.3g}</td>"
            f"<td class='num'>{interval}</td><td class='num'>{counts}</td>"
            f"<td>{esc(example)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>query</th><th>p</th><th>interval</th><th>hits/k</th>"
        f"<th>example reply</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
