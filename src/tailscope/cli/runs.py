"""`tailscope runs`, `show` and `report`: what the workspace holds, one run, an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailscope.cli.common import (
    JsonOpt,
    RegistryHelp,
    WorkspaceOpt,
    add_row,
    open_workspace,
    out,
    print_json,
    say,
)


def runs(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List the runs in the workspace, newest first."""
    rows = open_workspace(workspace).runs.list()
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    table = Table("run", "kind", "status", "progress", "model", "created")
    for r in rows:
        p = r.progress
        progress = f"{p.get('units_done', 0)}/{p.get('units_total', '?')}" if p else "-"
        add_row(table, r.id, r.kind, r.status, progress, r.model.get("name", "?"), r.created_at)
    out.print(table)


def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="Run id (see `tailscope runs`).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one run: its configuration, status and records (findings, test cases, ...)."""
    from tailscope.cli.tables import print_records
    from tailscope.report.usage import usage_rows
    from tailscope.runs.registry import run_kind

    ws = open_workspace(workspace)
    run = ws.runs.get(run_id)
    kind = run_kind(run.kind)
    records = kind.records(ws, run.id)
    usage = ws.responses.usage(run.id)
    if as_json:
        shown = {"run": run.to_json(), kind.records_key: [r.to_json() for r in records]}
        print_json({**shown, "endpoint_usage": usage} if usage else shown)
        return
    say(
        f"{run.id} {run.kind} · {run.status} · model {run.model.get('name')} · seed {run.seed}",
        to_stdout=True,
    )
    for _, role, model, requests, retries, hits in usage_rows(ws, [run]):
        say(
            f"{role} {model}: {requests} requests, {retries} retries, {hits} from the cache",
            to_stdout=True,
        )
    print_records(records)


def report(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN_ID", help="One or more run ids.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    workspace: WorkspaceOpt = None,
) -> None:
    """Write a self-contained HTML report: a summary per behavior, then every run."""
    from tailscope.report import write_report

    ws = open_workspace(workspace)
    for run_id in run_ids:
        ws.runs.get(run_id)
    path = write_report(ws, list(run_ids), output)
    say(f"report written to {path}", to_stdout=True)


def register(app: typer.Typer) -> None:
    for command in (runs, show, report):
        app.command(cls=RegistryHelp)(command)
