"""The one registration mechanism: built-ins found by their package, plugins by name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tailscope.detectors.registry import DETECTORS
from tailscope.errors import TailscopeError
from tailscope.models.registry import BACKENDS
from tailscope.redteam.methods import REDTEAM_METHODS
from tailscope.registry import Registry
from tailscope.runs.registry import RUN_KINDS
from tailscope.search.methods import SEARCH_METHODS


class Entry:
    def __init__(self, name: str, order: int = 100):
        self.name, self.order = name, order


def test_entries_register_once_and_unknown_names_list_the_known_ones():
    registry: Registry[Entry] = Registry("widget")
    first = registry.register(Entry("b"))
    registry.register(Entry("a", order=0))
    assert registry.get("b") is first and "a" in registry and "c" not in registry
    assert registry.names() == ["a", "b"]  # by order, then as registered
    with pytest.raises(TailscopeError, match="unknown widget 'c': use one of a, b"):
        registry.get("c")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Entry("b"))
    registry.register(first)  # the same entry again is no conflict
    registry.unregister("b")
    assert registry.names() == ["a"]


def test_every_builtin_is_found_without_being_imported_by_hand():
    """A fresh interpreter asks each registry for its names: the package scan finds them."""
    code = (
        "from tailscope.search.methods import SEARCH_METHODS as s;"
        "from tailscope.redteam.methods import REDTEAM_METHODS as r;"
        "from tailscope.detectors.registry import DETECTORS as d;"
        "from tailscope.models.registry import BACKENDS as b;"
        "from tailscope.runs.registry import RUN_KINDS as k;"
        "print([x.names() for x in (s, r, d, b, k)])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(
        [
            ["arca", "gcg", "autoprompt"],
            ["zero-shot", "few-shot", "supervised", "rl", "pair"],
            ["contact_info", "judge", "language", "quote", "refusal", "secret", "text", "toxicity"],
            ["packaged", "gguf", "hf", "openai", "vllm", "guarded"],
            [
                "search",
                "audit",
                "elicit",
                "redteam",
                "transfer",
                "guard-data",
                "guard-train",
                "guard-eval",
            ],
        ]
    )
    assert SEARCH_METHODS.names() and REDTEAM_METHODS.names() and DETECTORS.names()
    assert BACKENDS.names() and RUN_KINDS.names()


def test_a_plugin_module_that_cannot_be_imported_is_one_clear_line(tmp_path):
    code = "from tailscope.search.methods import SEARCH_METHODS; SEARCH_METHODS.names()"
    env = {"TAILSCOPE_PLUGINS": "no_such_plugin_module", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "plugin module 'no_such_plugin_module'" in out.stderr
