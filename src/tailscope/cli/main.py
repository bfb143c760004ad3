"""The `tailscope` app: one module per command group registers its commands here.

Bad input raises `TailscopeError`; `main` prints it as one line and exits with status 2
(`--debug` shows the traceback). Ctrl-C marks a run interrupted, prints the command that
resumes it and exits with status 130.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys

import typer

try:  # typer 0.20+ vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # older typer uses click itself
    from click import exceptions as click_exceptions

from tailscope.cli import (
    audit,
    behaviors,
    elicit,
    guard,
    models,
    queries,
    redteam,
    review,
    run,
    runs,
    search,
    transfer,
)
from tailscope.cli.common import ActorsOpt, ExecutorOpt, RegistryGroup, WorkspaceOpt, state
from tailscope.errors import TailscopeError
from tailscope.runs.execute import RunInterrupted
from tailscope.text import printable

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
    executor: ExecutorOpt = "local",
    actors: ActorsOpt = 2,
) -> None:
    state["debug"] = debug
    state["workspace"] = workspace
    if executor != "local" or actors != 2:
        from tailscope.runs.executor import choose

        choose(executor, actors)


for group in (
    audit,
    search,
    elicit,
    redteam,
    transfer,
    guard,
    run,
    runs,
    queries,
    behaviors,
    models,
    review,
):
    group.register(app)


def _terminated(signum, frame) -> None:
    """SIGTERM or SIGHUP (a job scheduler, a closed terminal) stops a run as Ctrl-C does:
    it is marked interrupted and can be resumed."""
    raise KeyboardInterrupt


def main() -> None:
    """Every way a command can end is one of: its output (0), one line on stderr (2), the
    resume command of an interrupted run (130). `--debug` shows tracebacks instead."""
    debug = "--debug" in sys.argv or os.environ.get("TAILSCOPE_DEBUG") == "1"
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminated)
    try:
        code = app(standalone_mode=False)
    except RunInterrupted as exc:
        _exit(f"{exc}", 130)
    except Exception as exc:
        if debug:
            raise
        _exit(*_one_line(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, TailscopeError):
        return f"error: {printable(str(exc))}", 2
    if isinstance(exc, click_exceptions.ClickException):  # bad usage: typer's own checks
        message = exc.format_message().rstrip(".")  # empty when the help was printed instead
        hint = f"; see `{exc.ctx.command_path} --help`" if getattr(exc, "ctx", None) else ""
        return (f"error: {printable(message)}{hint}" if message else ""), exc.exit_code
    if isinstance(exc, OSError) and exc.strerror:  # a path the user gave: too long, no access
        where = f"{exc.filename}: " if exc.filename else ""
        return f"error: {printable(where + exc.strerror)}: check the path", 2
    if isinstance(exc, sqlite3.DatabaseError):
        return (
            f"error: the workspace database is damaged ({exc}): restore it from a copy, "
            "or pass another --workspace DIR",
            2,
        )
    raise exc


def _exit(message: str, code: int) -> None:
    if message:
        sys.stderr.write(message + "\n")
    sys.exit(code)


__all__ = ["app", "main"]
