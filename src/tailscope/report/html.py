"""One self-contained HTML report for one or more runs: tables a reviewer can scan, plots
inlined as base64 PNG, no scripts and no external assets, so it can be mailed or archived.

Prompts and model outputs are untrusted text (a search is free to make a model write
markup), so every value from the workspace goes through `esc`, and a Content-Security-Policy
forbids scripts even if something slipped through.
"""

from __future__ import annotations

import html
import json
import os
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tailscope import __version__
from tailscope.errors import TailscopeError
from tailscope.report import plots
from tailscope.report.elicitation import elicitation_section
from tailscope.report.redteam import redteam_sections
from tailscope.store.workspace import Run, Workspace

# search/session.py names units "<behavior index>:<behavior label>/restart<k>"; the label
# keeps parameters (say(target=...)), which the finding's bare behavior name drops.
_UNIT_KEY = re.compile(r"^\d+:(?P<label>.+)/restart\d+$")
_STATUS_CLASSES = {
    "success": "ok",
    "ids_only": "warn",
    "no_match": "muted",
    "constraint_failed": "bad",
}
_RUN_STATUS_CLASSES = {
    "completed": "ok",
    "running": "warn",
    "interrupted": "warn",
    "failed": "bad",
}


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def behavior_label(finding: dict) -> str:
    if label := finding.get("behavior_label"):
        return str(label)
    if match := _UNIT_KEY.match(str(finding.get("unit_key", ""))):
        return match["label"]
    return str(finding.get("behavior", "?"))


def time_to_success(finding: dict) -> float | None:
    """When the restart first succeeded; its total time when that was not recorded."""
    if not finding.get("success"):
        return None
    value = finding.get("success_s")
    if value is None:
        value = finding.get("elapsed_s")
    return None if value is None else float(value)


@dataclass
class Group:
    """Findings of one behavior under one method within a run."""

    label: str
    method: str
    findings: list[dict] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(bool(f.get("success")) for f in self.findings)

    @property
    def times(self) -> list[float]:
        return [t for f in self.findings if (t := time_to_success(f)) is not None]

    @property
    def title(self) -> str:
        return f"{self.label} · {self.method}"


def group_findings(findings: list[dict]) -> list[Group]:
    groups: dict[tuple[str, str], Group] = {}
    for f in findings:
        key = (behavior_label(f), str(f.get("method", "?")))
        groups.setdefault(key, Group(*key)).findings.append(f)
    return list(groups.values())


def write_report(workspace: Workspace, run_ids: list[str], out_path: Path) -> Path:
    """Write the report for `run_ids` (in that order) to `out_path`; returns the path."""
    if not run_ids:
        raise TailscopeError("no runs to report: pass one or more run ids (see `tailscope runs`)")
    runs = [workspace.get_run(run_id) for run_id in run_ids]
    sections = []
    overview = []
    redteam = [run for run in runs if run.kind == "redteam"]
    for run in runs:
        findings = workspace.findings(run.id)
        if run.kind == "redteam":
            if run is redteam[0]:  # all red-team runs together, behind one comparison figure
                sections += redteam_sections(
                    workspace, redteam, esc, _run_details, lambda r: _run_badge(r.status)
                )
        elif run.kind == "elicit":
            sections.append(
                elicitation_section(workspace, run, esc, _run_details(run), _run_badge(run.status))
            )
        else:
            sections.append(_run_section(run, findings, workspace.steps(run.id)))
        overview.append((run, findings))
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    document = _PAGE.format(
        css=_CSS,
        generated=esc(generated),
        version=esc(__version__),
        overview=_overview(overview),
        sections="\n".join(sections),
    )
    return _write_atomically(Path(out_path), document)


def _write_atomically(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise TailscopeError(
            f"cannot write report {path}: {exc.strerror or exc}; pass --output FILE"
        ) from exc
    return path


def _overview(rows: list[tuple[Run, list[dict]]]) -> str:
    body = "".join(
        f"<tr><td><a href='#run-{esc(run.id)}'>{esc(run.id)}</a></td><td>{esc(run.kind)}</td>"
        f"<td>{_run_badge(run.status)}</td><td>{esc(run.model.get('name', '?'))}</td>"
        f"<td class='num'>{len(findings)}</td>"
        f"<td class='num'>{sum(bool(f.get('success')) for f in findings)}</td></tr>"
        for run, findings in rows
    )
    return (
        "<table><thead><tr><th>run</th><th>kind</th><th>status</th><th>model</th>"
        f"<th>restarts</th><th>successes</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _run_section(run: Run, findings: list[dict], steps: list[dict]) -> str:
    groups = group_findings(findings)
    parts = [
        f"<section class='run' id='run-{esc(run.id)}'>",
        f"<h2>Run {esc(run.id)} {_run_badge(run.status)}</h2>",
        _run_details(run),
    ]
    if findings:
        parts += ["<h3>Summary per behavior</h3>", _summary_table(groups)]
    figures = _figures(run, groups, steps)
    if figures:
        parts += ["<h3>Plots</h3>", figures]
    parts.append("<h3>Findings</h3>")
    if findings:
        parts.append(_findings_table(findings))
    else:
        parts.append(
            "<p class='empty'>No findings: this run has not completed any unit of work yet"
            f"{' (' + esc(run.status) + ')' if run.status != 'completed' else ''}.</p>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _run_details(run: Run) -> str:
    progress = run.progress
    rows = [
        ("kind", esc(run.kind)),
        ("model", _model_identity(run.model)),
        ("seed", esc(run.seed)),
        ("created", esc(run.created_at)),
        ("updated", esc(run.updated_at)),
    ]
    if progress:
        rows.append(
            (
                "progress",
                f"{esc(progress.get('units_done', '?'))} / "
                f"{esc(progress.get('units_total', '?'))} units",
            )
        )
    if run.error:
        rows.append(("error", f"<span class='error'>{esc(run.error)}</span>"))
    rows.append(("config", _key_values(_flatten(run.config))))
    env = ", ".join(f"{esc(k)} {esc(v)}" for k, v in run.environment.items() if v is not None)
    rows.append(("environment", env))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


def _model_identity(model: dict) -> str:
    name = esc(model.get("name", "?"))
    rest = ", ".join(f"{esc(k)} {esc(v)}" for k, v in model.items() if k != "name")
    return f"<b>{name}</b>" + (f" <span class='muted'>({rest})</span>" if rest else "")


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict) and value:
        pairs = []
        for key, item in value.items():
            pairs += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return [(prefix or "value", text)]


def _key_values(pairs: list[tuple[str, str]]) -> str:
    items = "".join(f"<li><code>{esc(k)}</code> = {esc(v)}</li>" for k, v in pairs)
    return f"<ul class='config'>{items}</ul>"


def _summary_table(groups: list[Group]) -> str:
    rows = []
    for g in groups:
        n = len(g.findings)
        times = g.times
        median = f"{statistics.median(times):.1f} s" if times else "—"
        rows.append(
            f"<tr><td>{esc(g.label)}</td><td>{esc(g.method)}</td><td class='num'>{n}</td>"
            f"<td class='num'>{g.successes}</td>"
            f"<td class='num'>{g.successes}/{n} ({g.successes / n:.0%})</td>"
            f"<td class='num'>{median}</td></tr>"
        )
    return (
        "<table><thead><tr><th>behavior</th><th>method</th><th>restarts</th>"
        "<th>successes</th><th>success rate</th><th>median time to success</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _figures(run: Run, groups: list[Group], steps: list[dict]) -> str:
    images = []
    if groups:
        images.append(
            (
                "success rate per behavior",
                plots.success_rate_plot(
                    [g.title for g in groups],
                    [g.successes for g in groups],
                    [len(g.findings) for g in groups],
                ),
            )
        )
        images.append(
            (
                "time to success per behavior",
                plots.time_to_success_plot({g.title: g.times for g in groups}),
            )
        )
    images.append(("objective over time", plots.objective_traces_plot(_traces(run, groups, steps))))
    return "\n".join(
        f"<figure><img alt='{esc(alt)}' src='data:image/png;base64,{png}'></figure>"
        for alt, png in images
        if png
    )


def _traces(run: Run, groups: list[Group], steps: list[dict]) -> dict:
    """Step rows → per behavior/method panel, per unit (elapsed, best objective, success)."""
    unit_group: dict[str, tuple[str, bool]] = {}
    for g in groups:
        for f in g.findings:
            unit_group[f["unit_key"]] = (g.title, bool(f.get("success")))
    default_method = str(run.config.get("settings", {}).get("method", "?"))
    by_unit: dict[str, list[dict]] = {}
    for row in steps:
        by_unit.setdefault(row["unit_key"], []).append(row)
    panels: dict[str, list] = {}
    for unit_key, rows in by_unit.items():
        title, succeeded = unit_group.get(
            unit_key, (f"{behavior_label({'unit_key': unit_key})} · {default_method}", False)
        )
        xs, ys = [], []
        for i, row in enumerate(rows):
            y = row.get("best_objective", row.get("objective"))
            if y is None:
                continue
            xs.append(float(row.get("elapsed_s", i)))
            ys.append(float(y))
        panels.setdefault(title, []).append((xs, ys, succeeded))
    return panels


def _findings_table(findings: list[dict]) -> str:
    rows = []
    for i, f in enumerate(findings, 1):
        scores = f.get("scores") or {}
        elapsed = f.get("elapsed_s")
        time_text = "—" if elapsed is None else f"{float(elapsed):.1f}"
        if f.get("success_s") is not None:
            time_text += f"<br><span class='muted'>hit at {float(f['success_s']):.1f}</span>"
        rows.append(
            f"<tr><td class='num'>{i}</td><td>{esc(behavior_label(f))}</td>"
            f"<td>{esc(f.get('method'))}</td><td>{_verification(f)}</td>"
            f"<td class='text'>{_text(f.get('prompt'))}</td>"
            f"<td class='text'>{_text(f.get('output'))}</td>"
            f"<td class='text'>{_text(f.get('target_output'))}</td>"
            f"<td>{_scores(scores.get('output'))}</td><td>{_scores(scores.get('prompt'))}</td>"
            f"<td class='num'>{esc(f.get('steps', '—'))}</td><td class='num'>{time_text}</td></tr>"
        )
    return (
        "<table class='findings'><thead><tr><th>#</th><th>behavior</th><th>method</th>"
        "<th>verification</th><th>prompt</th><th>model output (greedy, real)</th>"
        "<th>target output</th><th>output scores</th><th>prompt scores</th><th>steps</th>"
        f"<th>time (s)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _text(value) -> str:
    if value is None:
        return "<span class='muted'>—</span>"
    if value == "":
        return "<span class='muted'>(empty)</span>"
    return f"<span class='quote'>{esc(value)}</span>"


def _verification(finding: dict) -> str:
    checks = finding.get("verification") or {}
    status = str(checks.get("status", "success" if finding.get("success") else "unknown"))
    badge = f"<span class='badge {_STATUS_CLASSES.get(status, 'muted')}'>{esc(status)}</span>"
    names = [
        ("roundtrip_ok", "round-trip"),
        ("greedy_match", "greedy"),
        ("output_ok", "output"),
        ("prompt_ok", "prompt"),
    ]
    marks = " · ".join(
        f"{label} {'✓' if checks[key] else '✗'}" for key, label in names if key in checks
    )
    return badge + (f"<div class='checks'>{marks}</div>" if marks else "")


def _scores(scores) -> str:
    if not scores:
        return "<span class='muted'>—</span>"
    lines = []
    for name, value in scores.items():
        shown = f"{value:.2f}" if isinstance(value, int | float) else esc(value)
        lines.append(f"{esc(name)} {shown}")
    return "<br>".join(lines)


def _run_badge(status: str) -> str:
    return f"<span class='badge {_RUN_STATUS_CLASSES.get(status, 'muted')}'>{esc(status)}</span>"


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330;
       margin: 2rem auto; max-width: 1400px; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #d6dae2; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d6dae2; padding: .3rem .5rem; vertical-align: top; text-align: left; }
thead th { background: #f1f3f7; }
table.kv th { background: #f7f8fa; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.text { max-width: 22rem; }
.quote { white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, monospace;
         font-size: 12.5px; background: #f7f8fa; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: 12px;
         font-weight: 600; white-space: nowrap; }
.ok { background: #d8f0da; color: #1b5e20; } .warn { background: #fff0c2; color: #7a5a00; }
.bad { background: #fbd9d7; color: #8e1b13; } .muted { color: #6b7280; }
.badge.muted { background: #eceef2; }
.checks { font-size: 11.5px; color: #6b7280; white-space: nowrap; }
.error { color: #8e1b13; white-space: pre-wrap; }
.empty { padding: .8rem 1rem; background: #f7f8fa; border-left: 4px solid #9e9e9e; }
ul.config { margin: 0; padding-left: 1.1rem; } ul.config code { font-size: 12.5px; }
figure { margin: 1rem 0; } figure img { max-width: 100%; }
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tailscope report</title>
<style>{css}</style>
</head>
<body>
<h1>tailscope report</h1>
<p class="muted">generated {generated} by tailscope {version}. Model outputs below are
untrusted text, shown escaped. A finding counts as a success only when the model's real
greedy reply to the prompt, decoded as text, is the target and the constraints hold.</p>
{overview}
{sections}
</body>
</html>
"""
