"""The white-box search methods: each module here registers one optimizer class.

A method is a candidate sampler over the shared `Objective` (`search/state.py`'s
`Optimizer`); the budget, filters, verification and recording are the core's, so a new
method is one new module in this package (docs/extending.md).
"""

from __future__ import annotations

from tailscope.options import build_config, option_defaults
from tailscope.registry import Registry

SEARCH_METHODS = Registry("method", packages=["tailscope.search.methods"])


def method_config(method: str, options: dict):
    """The method's config from `-o` options; unknown names and bad values are one line."""
    return build_config(SEARCH_METHODS.get(method).Config, options, f"method {method}")


def method_options(method: str) -> dict[str, object]:
    return option_defaults(SEARCH_METHODS.get(method).Config)


def make_optimizer(method: str, objective, options: dict):
    return SEARCH_METHODS.get(method)(objective, method_config(method, options))
