"""The registry of white-box optimizers: name → config class and constructor.

A method is a candidate sampler over the shared `Objective`; adding one means adding
a config dataclass and an optimizer class here, nothing else.
"""

from __future__ import annotations

from tailscope.errors import TailscopeError
from tailscope.options import build_config
from tailscope.search.arca import Arca, ArcaConfig, AutoPrompt, AutoPromptConfig
from tailscope.search.gcg import Gcg, GcgConfig
from tailscope.search.objective import Objective

METHODS = {
    "arca": (ArcaConfig, Arca, "ARCA coordinate ascent (Jones et al. 2023)"),
    "gcg": (GcgConfig, Gcg, "Greedy Coordinate Gradient (Zou et al. 2023)"),
    "autoprompt": (AutoPromptConfig, AutoPrompt, "AutoPrompt (Shin et al. 2020)"),
}


def method_names() -> list[str]:
    return list(METHODS)


def _config(method: str, options: dict):
    if method not in METHODS:
        raise TailscopeError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    return build_config(METHODS[method][0], options, f"method {method}")


def validate_method_options(method: str, options: dict) -> None:
    _config(method, options)


def make_optimizer(method: str, objective: Objective, options: dict):
    return METHODS[method][1](objective, _config(method, options))
