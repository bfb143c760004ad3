"""Report sections of search runs: success per behavior, time to success, objective traces
and every finding with its verification (prompts and outputs escaped)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from tailscope.report import plots
from tailscope.report.blocks import badge, esc, figure, quote, run_section, table
from tailscope.store import Finding, Run, Workspace

_STATUS_CLASSES = {
    "success": "ok",
    "ids_only": "warn",
    "no_match": "muted",
    "constraint_failed": "bad",
}
VERIFIED_COLUMN = "verified prompt (search)"
# search/filters.py's reasons, as the report names them
_DROP_REASONS = {
    "roundtrip": "round trip",
    "forbidden_text": "forbidden text",
    "constraints": "prompt detectors",
}


def time_to_success(finding: Finding) -> float | None:
    """When the restart first succeeded; its total time when that was not recorded."""
    if not finding.success:
        return None
    value = finding.success_s if finding.success_s is not None else finding.elapsed_s
    return None if value is None else float(value)


@dataclass
class Group:
    """Findings of one behavior under one method within a run."""

    label: str
    method: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(f.success for f in self.findings)

    @property
    def times(self) -> list[float]:
        return [t for f in self.findings if (t := time_to_success(f)) is not None]

    @property
    def title(self) -> str:
        return f"{self.label} · {self.method}"

    def candidates(self) -> tuple[int, dict[str, int]] | None:
        """Candidates scored and dropped per filter reason over the group's restarts; None
        when no finding counted them (written before the filters did)."""
        counted = [f for f in self.findings if f.candidates_scored is not None]
        if not counted:
            return None
        dropped: dict[str, int] = {}
        for f in counted:
            for reason, count in f.candidates_dropped.items():
                dropped[reason] = dropped.get(reason, 0) + count
        return sum(f.candidates_scored for f in counted), dropped


def group_findings(findings: list[Finding]) -> list[Group]:
    groups: dict[tuple[str, str], Group] = {}
    for f in findings:
        key = (f.label, f.method)
        groups.setdefault(key, Group(*key)).findings.append(f)
    return list(groups.values())


def search_summary(findings: list[Finding]) -> dict[str, dict[str, str]]:
    """Per behavior: was a verified prompt found, by which method, how fast."""
    cells = {}
    for label, groups in _by_label(group_findings(findings)).items():
        found = [(min(g.times), g.method) for g in groups if g.times]
        restarts = sum(len(g.findings) for g in groups)
        if found:
            seconds, method = min(found)
            successes = sum(g.successes for g in groups)
            cell = (
                f"{badge('found', 'ok')} {esc(method)}, {seconds:.1f} s "
                f"<span class='muted'>({successes}/{restarts} restarts)</span>"
            )
        else:
            cell = f"{badge('none', 'muted')} <span class='muted'>0/{restarts} restarts</span>"
        cells[label] = {VERIFIED_COLUMN: cell}
    return cells


def _by_label(groups: list[Group]) -> dict[str, list[Group]]:
    out: dict[str, list[Group]] = {}
    for g in groups:
        out.setdefault(g.label, []).append(g)
    return out


def overview(findings: list[Finding]) -> str:
    verified = sum(f.success for f in findings)
    return f"{len(findings)} restarts, {verified} verified"


def search_section(run: Run, findings: list[Finding], steps: list[dict]) -> str:
    groups = group_findings(findings)
    parts = [f"<p>{esc(overview(findings))}.</p>"]
    if findings:
        parts += ["<h3>Summary per behavior</h3>", _summary_table(groups)]
    figures = _figures(run, groups, steps)
    if figures:
        parts += ["<h3>Plots</h3>", figures]
    parts.append("<h3>Findings</h3>")
    if findings:
        parts.append(_findings_table(findings))
    else:
        pending = f" ({esc(run.status)})" if run.status != "completed" else ""
        parts.append(
            "<p class='empty'>No findings: this run has not completed any unit of work yet"
            f"{pending}.</p>"
        )
    title = "Audit search" if run.kind == "audit" else "Search"
    return run_section(run, title, parts)


def search_sections(ws: Workspace, runs: list[Run], findings: dict[str, list[Finding]]):
    """One section per run; `findings` by run id."""
    return [search_section(r, findings[r.id], ws.units.steps(r.id)) for r in runs]


def _summary_table(groups: list[Group]) -> str:
    rows = []
    for g in groups:
        n = len(g.findings)
        median = f"{statistics.median(g.times):.1f} s" if g.times else "—"
        rows.append(
            [
                esc(g.label),
                esc(g.method),
                str(n),
                str(g.successes),
                f"{g.successes}/{n} ({g.successes / n:.0%})",
                median,
                _candidates(g),
            ]
        )
    head = [
        "behavior",
        "method",
        "restarts",
        "successes",
        "success rate",
        "median time",
        "candidates dropped / scored",
    ]
    return table(head, rows)


def _candidates(group: Group) -> str:
    """What the candidate filters dropped before exact scoring, per reason."""
    counts = group.candidates()
    if counts is None:
        return "<span class='muted'>—</span>"
    scored, dropped = counts
    reasons = " · ".join(
        f"{esc(_DROP_REASONS.get(reason, reason))} {count:,}" for reason, count in dropped.items()
    )
    return f"{sum(dropped.values()):,} / {scored:,}<div class='checks'>{reasons}</div>"


def _figures(run: Run, groups: list[Group], steps: list[dict]) -> str:
    images = []
    if groups:
        titles = [g.title for g in groups]
        rates = plots.success_rate_plot(
            titles, [g.successes for g in groups], [len(g.findings) for g in groups]
        )
        images.append(figure(rates, "success rate per behavior"))
        times = plots.time_to_success_plot({g.title: g.times for g in groups})
        images.append(figure(times, "time to success per behavior"))
    traces = plots.objective_traces_plot(_traces(run, groups, steps))
    images.append(figure(traces, "objective over time"))
    return "\n".join(i for i in images if i)


def _traces(run: Run, groups: list[Group], steps: list[dict]) -> dict:
    """Step rows → per behavior/method panel, per unit (elapsed, best objective, success)."""
    unit_group = {f.unit_key: (g.title, f.success) for g in groups for f in g.findings}
    default_method = str(run.config.get("settings", {}).get("method", "?"))
    by_unit: dict[str, list[dict]] = {}
    for row in steps:
        by_unit.setdefault(row["unit_key"], []).append(row)
    panels: dict[str, list] = {}
    for unit_key, rows in by_unit.items():
        label = unit_key.split(":", 1)[-1].rsplit("/", 1)[0]
        title, succeeded = unit_group.get(unit_key, (f"{label} · {default_method}", False))
        xs, ys = [], []
        for i, row in enumerate(rows):
            y = row.get("best_objective", row.get("objective"))
            if y is not None:
                xs.append(float(row.get("elapsed_s", i)))
                ys.append(float(y))
        panels.setdefault(title, []).append((xs, ys, succeeded))
    return panels


def _findings_table(findings: list[Finding]) -> str:
    rows = []
    for i, f in enumerate(findings, 1):
        elapsed = "—" if f.elapsed_s is None else f"{f.elapsed_s:.1f}"
        if f.success_s is not None:
            elapsed += f"<br><span class='muted'>hit at {f.success_s:.1f}</span>"
        rows.append(
            [
                str(i),
                esc(f.label),
                esc(f.method),
                _verification(f),
                quote(f.prompt),
                quote(f.output),
                quote(f.target_output),
                _scores(f.scores.get("output")),
                _scores(f.scores.get("prompt")),
                esc(f.steps),
                elapsed,
            ]
        )
    head = [
        "#",
        "behavior",
        "method",
        "verification",
        "prompt",
        "model output (greedy, real)",
        "target output",
        "output scores",
        "prompt scores",
        "steps",
        "time (s)",
    ]
    return table(head, rows, css="findings")


def _verification(finding: Finding) -> str:
    v = finding.verification
    mark = badge(v.status, _STATUS_CLASSES.get(v.status, "muted"))
    checks = [
        (v.roundtrip_ok, "round-trip"),
        (v.greedy_match, "greedy"),
        (v.output_ok, "output"),
        (v.prompt_ok, "prompt"),
    ]
    marks = " · ".join(f"{label} {'✓' if ok else '✗'}" for ok, label in checks if ok is not None)
    return mark + (f"<div class='checks'>{marks}</div>" if marks else "")


def _scores(scores: dict | None) -> str:
    if not scores:
        return "<span class='muted'>—</span>"
    return "<br>".join(f"{esc(name)} {value:.2f}" for name, value in scores.items())
