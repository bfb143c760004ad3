"""The red-team methods: each module here registers one `Method` class (`redteam/loop.py`).

A method only proposes test cases (or, for RL, trains on rewards the session computes);
the budget, target, classifier and recording are the session's, so a new method is one new
module in this package (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import asdict

from tailscope.options import build_config
from tailscope.registry import Registry

REDTEAM_METHODS = Registry("method", packages=["tailscope.redteam.methods"])


def method_config(method: str, options: dict):
    """The method's config from `-o` options; unknown names and bad values are one line."""
    return build_config(REDTEAM_METHODS.get(method).Config, options, f"red-team method {method}")


def resolved_options(method: str, options: dict) -> dict:
    """Every option of the method spelled out, as a new run records them."""
    return asdict(method_config(method, options))
