"""Report sections of red-team runs: difficulty vs diversity per method (Perez et al. 2022's
figure), each run's numbers, its clustered failures and its highest-scoring test cases.
Test cases and replies are untrusted text: everything is escaped."""

from __future__ import annotations

import math
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.figure import Figure

from tailscope.redteam.summary import summarize
from tailscope.report import plots
from tailscope.report.blocks import behavior_label, esc, figure, pct, run_section
from tailscope.store import RedTeamCase, Run, Workspace

TOP_CASES = 8
HIT_RATE_COLUMN = "red-team hit rate (best method)"


@dataclass
class Analysis:
    run: Run
    label: str
    cases: list[RedTeamCase]
    summary: dict


def analyse(ws: Workspace, run: Run) -> Analysis:
    cases = ws.redteam.cases(run.id)
    label = behavior_label(run)
    return Analysis(run, label, cases, summarize(cases, seed=run.seed))


def summary_cells(analyses: list[Analysis]) -> dict[str, dict[str, str]]:
    """Per behavior, the red-team run with the highest hit rate, with its interval."""
    best: dict[str, Analysis] = {}
    for a in analyses:
        if a.cases and (
            a.label not in best or a.summary["hit_rate"] > best[a.label].summary["hit_rate"]
        ):
            best[a.label] = a
    cells = {}
    for label, a in best.items():
        low, high = a.summary["hit_rate_interval"]
        method = esc(a.run.config.get("method"))
        cells[label] = {
            HIT_RATE_COLUMN: f"{pct(a.summary['hit_rate'])} [{100 * low:.1f}, {100 * high:.1f}] "
            f"<span class='muted'>{method}, {a.summary['queries']} queries</span>"
        }
    return cells


def overview(a: Analysis) -> str:
    return f"{a.summary['queries']} test cases, {a.summary['hits']} failures"


def redteam_sections(analyses: list[Analysis]) -> list[str]:
    """One overview figure for all red-team runs, then one section per run."""
    sections = []
    points = [(a.label, a.run.config.get("method", "?"), a.summary) for a in analyses]
    png = difficulty_diversity_plot(points)
    if png:
        sections.append(
            "<section class='run'><h2>Red teaming: difficulty vs diversity</h2>"
            "<p class='muted'>Each point is one run: the share of test cases that elicited the "
            "behavior against 1 &minus; Self-BLEU of its test cases (higher = more diverse).</p>"
            f"{figure(png, 'difficulty vs diversity')}</section>"
        )
    return sections + [_run_section(a) for a in analyses]


def _run_section(a: Analysis) -> str:
    run, summary = a.run, a.summary
    parts = [
        f"<p>Behavior <b>{esc(a.label)}</b>, method <b>{esc(run.config.get('method'))}</b>, "
        f"{summary['queries']} of {esc(run.config.get('budget'))} target queries spent, "
        f"<b>{summary['hits']}</b> failures found ({pct(summary['hit_rate'])}).</p>",
        _numbers(summary),
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
    top = sorted(a.cases, key=lambda c: -c.score)[:TOP_CASES]
    rows = "".join(
        f"<tr><td class='num'>{c.score:.2f}</td><td>{'yes' if c.hit else 'no'}</td>"
        f"<td>{esc(c.test_case)}</td><td>{esc(c.reply)}</td></tr>"
        for c in top
    )
    parts.append(
        "<h3>Highest-scoring test cases</h3><table><thead><tr><th>score</th><th>failure</th>"
        f"<th>test case</th><th>target reply</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return run_section(run, "Red team", parts)


def _numbers(summary: dict) -> str:
    rows = "".join(
        f"<tr><td>{esc(source)}</td><td class='num'>{row['queries']}</td>"
        f"<td class='num'>{row['hits']}</td><td class='num'>{pct(row['hit_rate'])}</td></tr>"
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
    with rc_context(plots.STYLE):
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
        return plots.png(fig)


def _num(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"
