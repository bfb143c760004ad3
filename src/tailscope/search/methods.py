"""The registry of white-box optimizers: name → config class and constructor.

A method is a candidate sampler over the shared `Objective`; adding one means adding
a config dataclass and an optimizer class here, nothing else.
"""

from __future__ import annotations

from dataclasses import fields

from tailscope.errors import TailscopeError
from tailscope.search.arca import Arca, ArcaConfig
from tailscope.search.objective import Objective

METHODS = {
    "arca": (ArcaConfig, Arca, "ARCA coordinate ascent (Jones et al. 2023)"),
}


def method_names() -> list[str]:
    return list(METHODS)


def _config(method: str, options: dict):
    if method not in METHODS:
        raise TailscopeError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    config_cls = METHODS[method][0]
    known = {f.name: f for f in fields(config_cls)}
    for key, value in options.items():
        if key not in known:
            raise TailscopeError(
                f"unknown option {key!r} for method {method}: use one of {', '.join(known)}"
            )
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 1:
            raise TailscopeError(f"option {key} of method {method} must be at least 1, got {value}")
    return config_cls(**options)


def validate_method_options(method: str, options: dict) -> None:
    _config(method, options)


def make_optimizer(method: str, objective: Objective, options: dict):
    config_cls, optimizer_cls, _ = METHODS[method]
    return optimizer_cls(objective, _config(method, options))
