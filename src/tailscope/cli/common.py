"""What every command shares: the consoles, the workspace, shared options, the progress
display, help that lists what is registered, and plain-text output of untrusted text."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from tailscope.errors import TailscopeError, first_problem
from tailscope.paths import default_workspace
from tailscope.runs import progress as protocol
from tailscope.text import printable

console = Console(stderr=True)  # progress, notes and errors
out = Console()  # results: tables and JSON
state: dict = {"debug": False, "workspace": None}

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace directory [env TAILSCOPE_WORKSPACE; default ./tailscope-workspace].",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed; the same seed reproduces the run.")]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Target model: a name, hf:DIR, gguf:FILE or a target YAML ({backends}).",
    ),
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        envvar="TAILSCOPE_EXECUTOR",
        help="Where a run's target runs: local (this process) or ray (Ray actors, each "
        "loading the model once; elicitation, red-team target evaluation and transfer; "
        "pip install 'tailscope[ray]'; joins $RAY_ADDRESS if set).",
    ),
]
ActorsOpt = Annotated[
    int,
    typer.Option("--actors", envvar="TAILSCOPE_RAY_ACTORS", help="Ray actors (--executor ray)."),
]
ParamOpt = Annotated[list[str], typer.Option("--param", "-p", help="Behavior parameter KEY=VALUE.")]
OptionOpt = Annotated[
    list[str], typer.Option("--opt", "-o", help="Method option KEY=VALUE, e.g. -o temperature=0.1.")
]


def open_workspace(path: Path | None):
    from tailscope.store import Workspace

    return Workspace(path or state["workspace"] or default_workspace())


def validated(model_cls, **values):
    """Build a settings model; its first validation problem becomes one clear line."""
    from pydantic import ValidationError

    try:
        return model_cls(**values)
    except ValidationError as exc:
        field, message, value = first_problem(exc)
        raise TailscopeError(f"--{field.replace('_', '-')}: {message} (got {value!r})") from None


# What a resumed run may still be told: where it lives and how to print it.
_RESUME_KEEPS = frozenset({"resume", "workspace", "as_json"})


def refuse_with_resume(ctx: typer.Context, *allowed: str) -> None:
    """`--resume` continues a run as recorded, so any other option given with it (but
    `allowed`) would be silently ignored: refuse it instead, in one line."""
    given = [
        param.opts[0]
        for param in ctx.command.params
        if param.name not in _RESUME_KEEPS | set(allowed)
        and getattr(ctx.get_parameter_source(param.name), "name", None) == "COMMANDLINE"
    ]
    if given:
        raise TailscopeError(
            f"--resume continues the run with its recorded settings, so {', '.join(given)} "
            "would be ignored: drop it, or start a new run"
        )


def no_behavior() -> TailscopeError:
    return TailscopeError(
        "no behavior given: pass --behavior NAME (see `tailscope behaviors list`)"
    )


# ---- output ----------------------------------------------------------------------------


def print_json(data) -> None:
    """JSON on stdout; NaN and infinities (not JSON) become null."""
    out.print_json(json.dumps(_finite(data), allow_nan=False))


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def add_row(table: Table, *cells) -> None:
    """Cells as plain text: model output and names may hold `[...]` that is not markup,
    and control characters that are shown, not sent to the terminal."""
    table.add_row(*(c if isinstance(c, Text) else Text(printable(str(c))) for c in cells))


def say(message: str, *, to_stdout: bool = False) -> None:
    """A line of plain text (never markup, control characters shown as escapes): notes go
    to stderr, results to stdout."""
    (out if to_stdout else console).print(Text(printable(message)), soft_wrap=True)


# ---- progress --------------------------------------------------------------------------


class RichProgress(protocol.Progress):
    """The run layer's progress protocol drawn with rich on stderr: one bar per task."""

    def __init__(self):
        self._bars: Progress | None = None

    @contextmanager
    def status(self, message: str):
        with console.status(Text(printable(message))):
            yield

    def task(self, description: str, total=None, completed=0) -> protocol.Task:
        if self._bars is None:
            columns = [
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                TimeElapsedColumn(),
            ]
            self._bars = Progress(*columns, console=console, transient=False)
            self._bars.start()
        return _RichTask(
            self._bars, self._bars.add_task(description, total=total, completed=completed)
        )

    def note(self, message: str) -> None:
        say(message)

    def finish(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None


class _RichTask(protocol.Task):
    def __init__(self, bars: Progress, task: TaskID):
        self._bars, self._task = bars, task

    def update(self, *, completed=None, total=None, description=None) -> None:
        changes = {"completed": completed, "total": total, "description": description}
        self._bars.update(self._task, **{k: v for k, v in changes.items() if v is not None})


# ---- help that lists what is registered --------------------------------------------------


def _registered() -> dict[str, callable]:
    def names(registry_path: str) -> str:
        module, attr = registry_path.rsplit(".", 1)
        import importlib

        return ", ".join(getattr(importlib.import_module(module), attr).names())

    def search_options() -> str:
        from tailscope.search.methods import SEARCH_METHODS, method_options

        return "; ".join(
            f"{name}: " + (", ".join(f"{k}={v}" for k, v in method_options(name).items()) or "-")
            for name in SEARCH_METHODS.names()
        )

    return {
        "{search_methods}": lambda: names("tailscope.search.methods.SEARCH_METHODS"),
        "{search_options}": search_options,
        "{redteam_methods}": lambda: names("tailscope.redteam.methods.REDTEAM_METHODS"),
        "{detectors}": lambda: names("tailscope.detectors.registry.DETECTORS"),
        "{backends}": lambda: names("tailscope.models.registry.BACKENDS"),
        "{run_kinds}": lambda: names("tailscope.runs.registry.RUN_KINDS"),
    }


def fill_help(text: str | None) -> str | None:
    """Registry placeholders filled in, paragraphs joined into one line each (indented
    lines, as in examples, kept), and `[` escaped so rich shows it as text."""
    if not text:
        return text
    for token, names in _registered().items():
        if token in text:
            text = text.replace(token, names())
    return escape("\n\n".join(_reflow(p) for p in text.strip().split("\n\n")))


def _reflow(paragraph: str) -> str:
    lines = [line for line in paragraph.splitlines() if line.strip()]
    if any(line.startswith("  ") for line in lines[1:]):
        return "\n".join(lines)
    return " ".join(line.strip() for line in lines)


def _fill(command) -> None:
    if getattr(command, "_tailscope_filled", False):
        return
    command._tailscope_filled = True
    command.help = fill_help(command.help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = fill_help(param.help)


class RegistryHelp(TyperCommand):
    """A command whose help is filled in only when shown: listing what is registered
    imports the methods (torch), which no other command start should pay for."""

    def format_help(self, ctx, formatter) -> None:
        _fill(self)
        super().format_help(ctx, formatter)


class RegistryGroup(TyperGroup):
    """A command group with the same help handling (its own options, its commands' lines)."""

    def format_help(self, ctx, formatter) -> None:
        _fill(self)
        for command in self.commands.values():
            _fill(command)
        super().format_help(ctx, formatter)
