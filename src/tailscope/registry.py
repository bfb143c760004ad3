"""One registration mechanism for everything pluggable: search methods, red-team methods,
detectors, model backends and run kinds.

An entry registers itself where it is defined, with the registry's decorator:

    @SEARCH_METHODS.register
    class MyMethod: name = "my-method"; ...

A registry finds its built-in entries by importing every module of its built-in packages
the first time it is asked for an entry, so a new built-in is one new file in such a
package. Plugins outside the package are modules named in `$TAILSCOPE_PLUGINS`
(comma-separated) or in the `tailscope.plugins` entry-point group; they are imported once,
before any registry answers.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Generic, TypeVar

from tailscope.errors import TailscopeError

T = TypeVar("T")
PLUGINS_ENV = "TAILSCOPE_PLUGINS"
ENTRY_POINT_GROUP = "tailscope.plugins"
_plugins_loaded = False


def load_plugins() -> None:
    """Import the plugin modules once: `$TAILSCOPE_PLUGINS`, then the entry points."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    names = [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise TailscopeError(
                f"plugin module {name!r} from ${PLUGINS_ENV} cannot be imported ({exc}): "
                "check the name and that it is on the Python path"
            ) from exc
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        entry_point.load()


class Registry(Generic[T]):
    """Named entries of one kind. `what` names the kind in messages ("search method")."""

    def __init__(
        self,
        what: str,
        packages: Sequence[str] = (),
        key: Callable[[T], str] = lambda entry: entry.name,
    ):
        self.what = what
        self._packages = tuple(packages)
        self._key = key
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, entry: T) -> T:
        """Add `entry` under its name; usable as a class decorator."""
        name = self._key(entry)
        if not name:
            raise ValueError(f"a {self.what} needs a name to be registered: {entry!r}")
        known = self._entries.get(name)
        if known is not None and known is not entry:
            raise ValueError(f"{self.what} {name!r} is registered twice: {known!r} and {entry!r}")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            raise TailscopeError(
                f"unknown {self.what} {name!r}: use one of {', '.join(self.names()) or 'none'}"
            )
        return self._entries[name]

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def names(self) -> list[str]:
        """Registered names, by each entry's `order` (default 100), then as registered."""
        self._load()
        ranked = sorted(
            enumerate(self._entries.items()), key=lambda e: (getattr(e[1][1], "order", 100), e[0])
        )
        return [name for _, (name, _) in ranked]

    def entries(self) -> list[T]:
        return [self._entries[name] for name in self.names()]

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for package_name in self._packages:
            package = importlib.import_module(package_name)
            for module in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{package_name}.{module.name}")
        load_plugins()
