"""Terminal tables of results: search findings, elicitation probabilities, forecasts,
backtests and red-team summaries. Every cell is plain text (`common.add_row`)."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text

from tailscope.cli.common import add_row, out, say
from tailscope.store import Elicitation, Finding, RedTeamCase

LN = math.log(10)  # a log10 error times this is a natural-log error, the paper's unit


def print_findings(findings: list[Finding]) -> None:
    table = Table("behavior", "status", "prompt", "reply", "steps", "time (s)")
    for f in findings:
        status = Text(f.verification.status, style="green" if f.success else "yellow")
        elapsed = "-" if f.elapsed_s is None else f"{f.elapsed_s:.1f}"
        add_row(table, f.label, status, repr(f.prompt), repr(f.output), f.steps, elapsed)
    out.print(table)


def print_elicitations(rows: list[Elicitation], top: int = 15) -> None:
    def likelihood(r: Elicitation) -> float:
        if r.logp is not None:
            return r.logp
        return math.log(r.p) if r.p > 0 else -math.inf

    ranked = sorted(rows, key=likelihood, reverse=True)
    table = Table(
        "query",
        "p",
        "interval",
        "hits/k",
        title=f"top {min(top, len(rows))} of {len(rows)} queries",
    )
    for r in ranked[:top]:
        if r.method == "exact":
            add_row(table, repr(r.query), f"{r.p:.3g}", "exact", "-")
        else:
            add_row(
                table,
                repr(r.query),
                f"{r.p:.3g}",
                f"[{r.low:.3g}, {r.high:.3g}]",
                f"{r.hits}/{r.k}",
            )
    out.print(table)


def _fmt(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _band(low: float | None, high: float | None) -> str:
    return "-" if low is None else f"[{low:.3g}, {high:.3g}]"


def print_forecast(result, label: str) -> None:
    pct = round(100 * result.confidence)
    ones = f" -> {result.one_rule}" if result.one_rule else ""
    say(
        f"{label}: m = {result.m} queries, {result.n_positive} with p > 0 ({result.n_zero} "
        f"with p = 0, {result.n_one} with p = 1{ones}); observed max p = "
        f"{result.observed_max_p:.3g}",
        to_stdout=True,
    )
    tau_columns = (f"share with p > {result.tau:g}", f"{pct}% interval") if result.tau else ()
    table = Table(
        "method",
        f"worst-query p at n = {result.deploy_n:,}",
        f"{pct}% interval",
        "P(>= 1 occurrence)",
        f"{pct}% interval",
        *tau_columns,
    )
    for m in result.methods:
        if not m.ok:
            add_row(table, m.method, "not enough signal", *["-"] * (3 + len(tau_columns)))
            continue
        q = f"{m.q_p:.3g}" if m.q_p and m.q_p > 0 else f"10^{m.log10_q_p:.1f}"
        cells = [q, _band(m.q_p_low, m.q_p_high), _fmt(m.aggregate_risk)]
        cells.append(_band(m.aggregate_low, m.aggregate_high))
        if result.tau:
            cells += [_fmt(m.frequency_above_tau), _band(m.frequency_low, m.frequency_high)]
        add_row(table, m.method, *cells)
    out.print(table)
    for m in result.methods:
        if not m.ok:
            say(f"{m.method}: not enough signal: {m.reason}", to_stdout=True)
            continue
        for warning in m.warnings:
            say(f"{m.method}: {warning}", to_stdout=True)
        if m.bootstrap_valid is not None and m.bootstrap_valid < 0.9:
            say(
                f"{m.method}: only {100 * m.bootstrap_valid:.0f}% of bootstrap resamples had "
                "enough signal; the interval is conditional on those",
                to_stdout=True,
            )
    _print_diagnostics(result.diagnostics)


def _print_diagnostics(diag: dict) -> None:
    """The tail diagnostics (forecast/diagnostics.py): shape, local slopes, warnings."""
    if not diag:
        return
    slopes = ", ".join(f"ranks {w['ranks']}: {w['slope']:.3g}" for w in diag["window_slopes"])
    shape = "not tested" if diag["xi"] is None else f"xi = {diag['xi']:.2f}"
    if diag["xi_low"] is not None:
        shape += f" [{diag['xi_low']:.2f}, {diag['xi_high']:.2f}] ({diag['shape']})"
    say(f"tail shape (top {diag['k_shape']}): {shape}", to_stdout=True)
    if slopes:
        say(f"tail linearity, slope of log-survival by rank window: {slopes}", to_stdout=True)
    if body := diag.get("normal_body"):
        say(
            f"tail against the whole set (top {body['k']}): mean excess {body['mean_excess']:.3g}"
            f" [{body['low']:.3g}, {body['high']:.3g}]; a normal fit predicts "
            f"{body['normal']:.3g}, a Gumbel of the same mean and sd {body['gumbel']:.3g}",
            to_stdout=True,
        )
    for warning in diag["warnings"]:
        say(f"warning: {warning}", to_stdout=True)


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def print_backtest(result, label: str) -> None:
    pct = round(100 * result.confidence)
    table = Table(
        "method",
        "forecasts",
        "mean |log10 error|",
        "median",
        "mean signed",
        "mean |ln error|",
        "within 10x",
        "under-estimated",
        f"{pct}% coverage",
        title=f"{label}: {result.repeats} splits, m = {result.m} -> n = {result.n:,} "
        f"(pool {result.pool_size:,}; {result.distinct_actual_maxima} distinct actual maxima)",
    )
    for s in result.methods:
        ln_error = None if s.mean_abs_log10_error is None else s.mean_abs_log10_error * LN
        add_row(
            table,
            s.method,
            f"{s.forecasts}/{result.repeats}",
            _fmt(s.mean_abs_log10_error),
            _fmt(s.median_abs_log10_error),
            _fmt(s.mean_signed_log10_error),
            _fmt(ln_error),
            _percent(s.within_10x),
            _percent(s.under_estimated),
            _percent(s.coverage),
        )
    out.print(table)
    if result.distinct_actual_maxima < max(10, result.repeats // 10):
        say(
            f"only {result.distinct_actual_maxima} distinct actual maxima in {result.repeats} "
            "splits: the pool is too small against n for this backtest to tell methods apart",
            to_stdout=True,
        )


def print_plan(rows, budget: int, deploy_n: int) -> None:
    table = Table(
        "run / behavior",
        "m now",
        "add",
        f"worst-query log10 p at n = {deploy_n:,}",
        "95% width now (decades)",
        "width after",
        "interval after (log10 p)",
        title=f"plan: {budget:,} new evaluation queries",
    )
    for r in rows:
        add_row(
            table,
            r.label,
            f"{r.m:,}",
            f"{r.add:,}",
            f"{r.log10_q_p:.2f}",
            f"{r.width_now:.2f}",
            f"{r.width_after:.2f}",
            f"[{r.low_after:.2f}, {r.high_after:.2f}]",
        )
    out.print(table)
    say(
        "expected widths hold each fitted tail fixed and k_tail as given; refit after "
        "eliciting the new queries",
        to_stdout=True,
    )


def _rate_band(interval) -> str:
    return "-" if interval is None else f"{100 * interval[0]:.1f}, {100 * interval[1]:.1f}"


def print_redteam_summary(summary: dict, cases: list[RedTeamCase], method: str) -> None:
    table = Table("method", "queries", "hits", "hit rate [95% CI]", "Self-BLEU", "emb. sim.")
    add_row(
        table,
        method,
        summary["queries"],
        summary["hits"],
        f"{100 * summary['hit_rate']:.1f}% [{_rate_band(summary['hit_rate_interval'])}]",
        _fmt(summary["self_bleu"]),
        _fmt(summary["embedding_similarity"]),
    )
    for source, row in summary["by_source"].items():
        if source != method:
            rate = f"{100 * row['hit_rate']:.1f}%"
            add_row(table, f"  of which {source}", row["queries"], row["hits"], rate, "", "")
    out.print(table)
    if summary["failure_clusters"]:
        clusters = Table("size", "representative failure", title="failures, clustered")
        for c in summary["failure_clusters"]:
            add_row(clusters, c["size"], c["representative"])
        out.print(clusters)
    best = Table("score", "test case", "target reply", title="highest-scoring test cases")
    for c in sorted(cases, key=lambda c: -c.score)[:5]:
        add_row(best, f"{c.score:.2f}", c.test_case, c.reply[:120])
    out.print(best)


def print_records(records: list) -> None:
    """A run's records as the table of their type."""
    if records and isinstance(records[0], Finding):
        print_findings(records)
    elif records and isinstance(records[0], Elicitation):
        print_elicitations(records)
    elif records and isinstance(records[0], RedTeamCase):
        best = Table(
            "score", "hit", "test case", "target reply", title=f"{len(records)} test cases"
        )
        for c in sorted(records, key=lambda c: -c.score)[:15]:
            add_row(best, f"{c.score:.2f}", "yes" if c.hit else "no", c.test_case, c.reply[:120])
        out.print(best)
    else:
        say(f"{len(records)} records", to_stdout=True)
