"""Report sections of red-team runs: difficulty vs diversity per method (Perez et al. 2022's
figure), each run's numbers, its clustered failures and its highest-scoring test cases.
Test cases and replies are untrusted text: everything is escaped."""

from __future__ import annotations

import math

from matplotlib import rc_context
from matplotlib.figure import Figure

from tailscope.report import plots

TOP_CASES = 8


def redteam_sections(ws, runs, esc, details, badge) -> list[str]:
    """One overview figure for all red-team runs, then one section per run."""
    from tailscope.redteam.summary import summarize

    cases = {run.id: ws.redteam_cases(run.id) for run in runs}
    summaries = {run.id: summarize(cases[run.id], seed=run.seed) for run in runs}
    sections = []
    points = [(_label(run), run.config.get("method", "?"), summaries[run.id]) for run in runs]
    figure = difficulty_diversity_plot(points)
    if figure:
        sections.append(
            "<section class='run'><h2>Red teaming: difficulty vs diversity</h2>"
            "<p class='muted'>Each point is one run: the share of test cases that elicited the "
            "behavior against 1 &minus; Self-BLEU of its test cases (higher = more diverse).</p>"
            f"<figure><img alt='difficulty vs diversity' src='data:image/png;base64,{figure}'>"
            "</figure></section>"
        )
    for run in runs:
        sections.append(
            _run_section(run, cases[run.id], summaries[run.id], esc, details(run), badge(run))
        )
    return sections


def _label(run) -> str:
    behavior = run.config.get("behavior", {})
    params = "".join(f" {k}={v}" for k, v in behavior.get("params", {}).items())
    return behavior.get("name", "?") + params


def _run_section(
    run, cases: list[dict], summary: dict, esc, details_html: str, badge_html: str
) -> str:
    parts = [
        f"<section class='run' id='run-{esc(run.id)}'>",
        f"<h2>Red team {esc(run.id)} {badge_html}</h2>",
        f"<p>Behavior <b>{esc(_label(run))}</b>, method <b>{esc(run.config.get('method'))}</b>, "
        f"{summary['queries']} of {run.config.get('budget')} target queries spent, "
        f"<b>{summary['hits']}</b> failures found "
        f"({_pct(summary['hit_rate'])}).</p>",
        details_html,
        _numbers(summary, esc),
    ]
    if summary["failure_clusters"]:
        rows = "".join(
            f"<tr><td class='num'>{c['size']}</td><td>{esc(c['representative'])}</td>"
            f"<td>{'<br>'.join(esc(e) for e in c['examples'])}</td></tr>"
            for c in summary["failure_clusters"]
        )
        parts.append(
            "<h3>Failures, clustered (k-means on sentence embeddings)</h3><table><thead><tr>"
            "<th>size</th><th>representative</th><th>examples</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    top = sorted(cases, key=lambda c: -c["score"])[:TOP_CASES]
    rows = "".join(
        f"<tr><td class='num'>{c['score']:.2f}</td><td>{'yes' if c['hit'] else 'no'}</td>"
        f"<td>{esc(c['test_case'])}</td><td>{esc(c['reply'])}</td></tr>"
        for c in top
    )
    parts.append(
        "<h3>Highest-scoring test cases</h3><table><thead><tr><th>score</th><th>failure</th>"
        f"<th>test case</th><th>target reply</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _numbers(summary: dict, esc) -> str:
    rows = "".join(
        f"<tr><td>{esc(source)}</td><td class='num'>{row['queries']}</td>"
        f"<td class='num'>{row['hits']}</td><td class='num'>{_pct(row['hit_rate'])}</td></tr>"
        for source, row in summary["by_source"].items()
    )
    return (
        "<table><thead><tr><th>test cases from</th><th>queries</th><th>failures</th>"
        f"<th>hit rate</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<p class='muted'>Diversity: Self-BLEU {_num(summary['self_bleu'])}, mean pairwise "
        f"embedding similarity {_num(summary['embedding_similarity'])} "
        f"({summary['unique_test_cases']} distinct test cases).</p>"
    )


def difficulty_diversity_plot(points: list[tuple[str, str, dict]]) -> str | None:
    """Scatter of hit rate against 1 - Self-BLEU, one marker per run, colored by behavior."""
    usable = [(b, m, s) for b, m, s in points if not math.isnan(s["self_bleu"])]
    if not usable:
        return None
    with rc_context(plots._RC):
        fig = Figure(figsize=(6.5, 4))
        ax = fig.add_subplot()
        behaviors = sorted({b for b, _, _ in usable})
        colors = {b: f"C{i}" for i, b in enumerate(behaviors)}
        for behavior, method, s in usable:
            x, y = 1 - s["self_bleu"], 100 * s["hit_rate"]
            ax.scatter([x], [y], color=colors[behavior], s=36)
            ax.annotate(method, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
        for behavior in behaviors:
            ax.scatter([], [], color=colors[behavior], label=behavior)
        ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel("diversity: 1 - Self-BLEU of the test cases")
        ax.set_ylabel("hit rate (% of test cases that elicit the behavior)")
        ax.set_title("Red-team methods: difficulty vs diversity")
        return plots._png(fig)


def _pct(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"
