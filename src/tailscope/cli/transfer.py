"""`tailscope transfer RUN_ID... --target SPEC`: replay found prompts against another target."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tailscope.cli.common import (
    JsonOpt,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    add_row,
    open_workspace,
    out,
    print_json,
    refuse_with_resume,
    validated,
)
from tailscope.errors import TailscopeError


def transfer(
    ctx: typer.Context,
    sources: Annotated[
        list[str] | None,
        typer.Argument(metavar="RUN_ID...", help="Search, audit or red-team runs to replay."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            "-t",
            help="The new target: a name, hf:DIR, gguf:FILE or a target YAML ({backends}).",
        ),
    ] = None,
    max_new_tokens: Annotated[
        int, typer.Option(help="Reply tokens for exact-target findings (others keep theirs).")
    ] = 32,
    seed: SeedOpt = 0,
    resume: Annotated[str | None, typer.Option(help="Continue transfer run RUN_ID.")] = None,
    show: Annotated[str | None, typer.Option(help="Only print transfer run RUN_ID.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay search runs' verified prompts and red-team runs' failures against another
    target; print the transfer table (source method × behavior → success there).

    Examples:
      tailscope transfer RUN_A RUN_B --target deployed.yaml
      tailscope transfer --resume RUN_ID
    """
    from tailscope.kinds.transfer import TransferConfig, source_items
    from tailscope.models.registry import parse_model_spec
    from tailscope.runs.execute import execute, resumable

    ws = open_workspace(workspace)
    if show:
        resumable(ws, show, ("transfer",))
        _print(ws, show, as_json)
        return
    if resume:
        refuse_with_resume(ctx)
        run, config = resumable(ws, resume, ("transfer",))
        seed = run.seed
    else:
        if not sources:
            raise TailscopeError("no source run given: pass RUN_ID... (see `tailscope runs`)")
        if not target:
            raise TailscopeError("no target given: pass --target SPEC, e.g. a target YAML")
        config = validated(
            TransferConfig, model=target, sources=sources, max_new_tokens=max_new_tokens
        )
        parse_model_spec(target)  # a bad target or source is one line before anything loads
        source_items(ws, config)
    run_id = execute(ws, "transfer", config, seed, resume=resume, progress=RichProgress())
    _print(ws, run_id, as_json)


def _print(ws, run_id: str, as_json: bool) -> None:
    from tailscope.kinds.transfer import TransferKind
    from tailscope.report.transfer import overall, transfer_table

    results = TransferKind().records(ws, run_id)
    rows = transfer_table(results)
    if as_json:
        print_json(
            {
                "run": run_id,
                "table": [row.to_json() for row in rows],
                "results": [r.to_json() for r in results],
            }
        )
        return
    table = Table("source method", "behavior", "success", "rate [95% CI]", title=overall(results))
    for row in rows:
        interval = f"{row.rate:.0%} [{row.low:.0%}, {row.high:.0%}]"
        add_row(table, row.source_method, row.behavior, f"{row.successes}/{row.total}", interval)
    out.print(table)
    out.print(f"transfer run {run_id}", markup=False)


def register(app: typer.Typer) -> None:
    app.command(cls=RegistryHelp)(transfer)
