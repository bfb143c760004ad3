"""One self-contained HTML report for one or more runs: tables a reviewer can scan, plots
inlined as base64 PNG, no scripts and no external assets, so it can be mailed or archived.

It opens with what an auditor wants first, one row per behavior (was a verified prompt
found, how likely each query is to elicit it and what that means at deployment scale, how
often red teaming hit it), then the runs, then each kind's sections: every kind renders its
own part (`RunKind.report`), found through the run-kind registry.

Prompts and model outputs are untrusted text (a search is free to make a model write
markup), so every value from the workspace is escaped, and a Content-Security-Policy
forbids scripts even if something slipped through.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tailscope import __version__
from tailscope.errors import TailscopeError
from tailscope.report.blocks import esc, run_badge, run_section, table
from tailscope.report.review import review_section
from tailscope.report.usage import usage_section
from tailscope.runs.registry import RUN_KINDS, ReportPart, run_kind
from tailscope.store import Run, Workspace


def write_report(workspace: Workspace, run_ids: list[str], out_path: Path) -> Path:
    """Write the report for `run_ids` (in that order) to `out_path`; returns the path."""
    if not run_ids:
        raise TailscopeError("no runs to report: pass one or more run ids (see `tailscope runs`)")
    runs = [workspace.runs.get(run_id) for run_id in run_ids]
    by_kind: dict[str, list[Run]] = {}
    for run in runs:
        by_kind.setdefault(run.kind, []).append(run)
    parts = {kind: _part(workspace, kind, of_kind) for kind, of_kind in by_kind.items()}
    document = _PAGE.format(
        css=_CSS,
        generated=esc(datetime.now(UTC).isoformat(timespec="seconds")),
        version=esc(__version__),
        summary=_summary(parts),
        overview=_overview(runs, parts) + usage_section(workspace, runs),
        sections="\n".join(
            [
                *(section for part in parts.values() for section in part.sections),
                review_section(workspace, runs),  # detectors against human labels
            ]
        ),
    )
    return _write_atomically(Path(out_path), document)


def _part(workspace: Workspace, kind: str, runs: list[Run]) -> ReportPart:
    if kind not in RUN_KINDS:  # written by a plugin that is not installed here
        return ReportPart(sections=[run_section(run, f"Run ({kind})", []) for run in runs])
    return run_kind(kind).report(workspace, runs)


def _summary(parts: dict[str, ReportPart]) -> str:
    """One row per behavior; columns in the kinds' order (search first), and where two kinds
    fill the same cell (a search and an audit) both are shown."""
    rows: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    for kind in sorted(parts, key=_kind_order):
        for label, cells in parts[kind].summary.items():
            row = rows.setdefault(label, {})
            for column, cell in cells.items():
                row[column] = f"{row[column]}<br>{cell}" if column in row else cell
                if column not in columns:
                    columns.append(column)
    if not rows:
        return ""
    body = [[esc(label), *(cells.get(c, "—") for c in columns)] for label, cells in rows.items()]
    return "<h2>Summary per behavior</h2>" + table(["behavior", *map(esc, columns)], body)


def _kind_order(kind: str) -> int:
    return RUN_KINDS.get(kind).order if kind in RUN_KINDS else 1000


def _overview(runs: list[Run], parts: dict[str, ReportPart]) -> str:
    rows = [
        [
            f"<a href='#run-{esc(run.id)}'>{esc(run.id)}</a>",
            esc(run.kind),
            run_badge(run.status),
            esc(run.model.get("name", "?")),
            parts[run.kind].overview.get(run.id, ""),
        ]
        for run in runs
    ]
    return "<h2>Runs</h2>" + table(["run", "kind", "status", "model", "holds"], rows)


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
{summary}
{overview}
{sections}
</body>
</html>
"""
