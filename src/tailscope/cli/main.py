"""The `tailscope` app: one module per command group registers its commands here.

Bad input raises `TailscopeError`; `main` prints it as one line and exits with status 2
(`--debug` shows the traceback). Ctrl-C marks a run interrupted, prints the command that
resumes it and exits with status 130.
"""

from __future__ import annotations

import os
import sys

import typer

from tailscope.cli import (
    audit,
    behaviors,
    elicit,
    models,
    queries,
    redteam,
    review,
    run,
    runs,
    search,
)
from tailscope.cli.common import RegistryGroup, WorkspaceOpt, state
from tailscope.errors import TailscopeError
from tailscope.runs.execute import RunInterrupted

app = typer.Typer(
    help="Audit language models for rare behaviors: find prompts that elicit them, measure "
    "how likely each query is to, forecast deployment risk, red-team with an attacker LM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=RegistryGroup,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    workspace: WorkspaceOpt = None,
) -> None:
    state["debug"] = debug
    state["workspace"] = workspace


for group in (audit, search, elicit, redteam, run, runs, queries, behaviors, models, review):
    group.register(app)


def main() -> None:
    debug = "--debug" in sys.argv or os.environ.get("TAILSCOPE_DEBUG") == "1"
    try:
        app()
    except TailscopeError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    except RunInterrupted as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(130)


__all__ = ["app", "main"]
