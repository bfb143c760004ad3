"""`tailscope behaviors list|show`: the behavior library and any spec file."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tailscope.cli.common import ParamOpt, RegistryGroup, RegistryHelp, add_row, out
from tailscope.options import parse_pairs

behaviors_app = typer.Typer(
    help="List and inspect behavior specs.", no_args_is_help=True, cls=RegistryGroup
)


@behaviors_app.command("list", cls=RegistryHelp)
def behaviors_list() -> None:
    """List the built-in behaviors."""
    from tailscope.behaviors.spec import list_behaviors

    table = Table("name", "parameters", "description")
    for b in list_behaviors():
        add_row(table, b.name, ", ".join(b.params) or "-", b.description)
    out.print(table)


@behaviors_app.command("show", cls=RegistryHelp)
def behaviors_show(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Built-in behavior name or path to a YAML spec.")
    ],
    param: ParamOpt = [],
) -> None:
    """Show a behavior spec, validated, with parameters substituted.

    Detector kinds a spec may use: {detectors}.
    """
    from tailscope.behaviors.spec import load_behavior

    behavior = load_behavior(name, parse_pairs(param, "--param") or None)
    out.print_json(json.dumps(behavior.model_dump(mode="json")))


def register(app: typer.Typer) -> None:
    app.add_typer(behaviors_app, name="behaviors")
