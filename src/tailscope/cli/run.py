"""`tailscope run KIND --config FILE`: any registered run kind, from its config as a file.

The dedicated commands (search, elicit, redteam, audit) build configs from options; this one
takes the config itself, so a run kind added in one file (docs/extending.md) is usable from
the command line without touching it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tailscope.cli.common import (
    JsonOpt,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    open_workspace,
    print_json,
    refuse_with_resume,
)
from tailscope.cli.tables import print_records
from tailscope.errors import TailscopeError, first_problem
from tailscope.files import read_mapping


def run(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(metavar="KIND", help="Run kind: {run_kinds}.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The kind's config as YAML or JSON.")
    ] = None,
    seed: SeedOpt = 0,
    resume: Annotated[str | None, typer.Option(help="Continue run RUN_ID of this kind.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run any registered run kind from a config file, recorded like every run.

    Example: tailscope run search -c search.yaml --seed 1
    """
    from tailscope.runs.execute import execute, resumable
    from tailscope.runs.registry import run_kind

    spec = run_kind(kind)
    ws = open_workspace(workspace)
    if resume:
        refuse_with_resume(ctx, "kind")
        recorded, settings = resumable(ws, resume, (kind,))
        seed = recorded.seed
    elif config is None:
        raise TailscopeError(f"give the {kind} run's config: --config FILE (YAML or JSON)")
    else:
        settings = _config(spec.Config, config)
    run_id = execute(ws, kind, settings, seed, resume=resume, progress=RichProgress())
    records = spec.records(ws, run_id)
    if as_json:
        print_json({"run": run_id, spec.records_key: [r.to_json() for r in records]})
    else:
        print_records(records)


def _config(config_cls, path: Path):
    from pydantic import ValidationError

    try:
        return config_cls.model_validate(_read(path))
    except ValidationError as exc:
        field, message, value = first_problem(exc)
        raise TailscopeError(
            f"config file {path}: field {field!r}: {message} (got {value!r})"
        ) from None


def _read(path: Path) -> dict:
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TailscopeError(f"config file {path}: cannot read it as JSON ({exc})") from None
        if not isinstance(data, dict):
            raise TailscopeError(f"config file {path}: the file must hold one JSON object")
        return data
    return read_mapping(path, f"config file {path}", "of the run kind's settings")


def register(app: typer.Typer) -> None:
    app.command(cls=RegistryHelp)(run)
