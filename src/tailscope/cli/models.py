"""`tailscope models`: the named models and the backends that load model specs."""

from __future__ import annotations

import typer
from rich.table import Table

from tailscope.cli.common import RegistryHelp, add_row, out


def models() -> None:
    """List the named models and the backends a model spec can name (BACKEND:LOCATION)."""
    from tailscope.models.registry import BACKENDS, list_models

    table = Table("name", "available", "description")
    for m in list_models():
        add_row(table, m.name, "yes" if m.available else f"no ({m.install_hint})", m.description)
    out.print(table)
    backends = Table("backend", "can", "spec", title="backends")
    for cls in BACKENDS.entries():
        can = ", ".join(sorted(cls.capabilities))
        add_row(backends, cls.name, can, f"{cls.name}:LOCATION — {cls.summary}")
    out.print(backends)
    out.print(
        "A target YAML (model: SPEC, system_prompt: ..., options: {...}) works wherever a "
        "model spec does.",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command(cls=RegistryHelp)(models)
