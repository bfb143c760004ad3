"""Where tailscope keeps its caches and, by default, its workspace."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """User cache: $TAILSCOPE_CACHE, else $XDG_CACHE_HOME/tailscope, else ~/.cache/tailscope."""
    if env := os.environ.get("TAILSCOPE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tailscope"


def default_workspace() -> Path:
    return Path(os.environ.get("TAILSCOPE_WORKSPACE", "tailscope-workspace"))
