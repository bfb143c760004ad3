"""`tailscope review`, `labels export|import` and `calibrate`: people label what the
detectors flagged, and the labels measure the detectors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tailscope.cli.common import RegistryGroup, RegistryHelp, WorkspaceOpt, open_workspace, say

labels_app = typer.Typer(
    help="Move human labels in and out of the workspace (JSONL or CSV).",
    no_args_is_help=True,
    cls=RegistryGroup,
)
RunIdsArg = Annotated[
    list[str] | None, typer.Argument(help="Run ids (default: every run in the workspace).")
]


@labels_app.command("export", cls=RegistryHelp)
def labels_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="A .jsonl or .csv file.")],
    run_ids: RunIdsArg = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write the labels, one row per label: item text, the detector's suggestion with its
    score, and the human response (the flat shape Argilla and Label Studio export)."""
    from tailscope.review.exchange import export_rows, write_labels

    ws = open_workspace(workspace)
    rows = export_rows(ws, list(run_ids or []))
    write_labels(rows, output)
    say(f"{len(rows)} labels written to {output}", to_stdout=True)


@labels_app.command("import", cls=RegistryHelp)
def labels_import(
    path: Annotated[Path, typer.Argument(help="A .jsonl or .csv file, as `labels export` writes.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Read labels into the workspace; a labeller's label of an item replaces their old one.
    Needs the columns run_id, item_kind, item_idx, response and labeller."""
    from tailscope.review.exchange import import_labels

    count = import_labels(open_workspace(workspace), path)
    say(f"{count} labels imported from {path}", to_stdout=True)


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
