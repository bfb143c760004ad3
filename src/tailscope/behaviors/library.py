"""The built-in behavior library: YAML specs shipped as package data in `library/`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def library_dir() -> Path:
    return Path(str(resources.files("tailscope.behaviors") / "library"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in library_dir().glob("*.yaml"))


def builtin_path(name: str) -> Path | None:
    """The spec file of a built-in behavior, or None when there is no such built-in."""
    path = library_dir() / f"{name}.yaml"
    return path if name in builtin_names() else None
