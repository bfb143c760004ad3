"""The registry of white-box optimizers: name → config class and constructor.

A method is a candidate sampler over the shared `Objective`; adding one means adding
a config dataclass and an optimizer class here, nothing else.
"""

from __future__ import annotations

from dataclasses import asdict

from pydantic import ValidationError

from tailscope.errors import TailscopeError, first_problem
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


def method_options(method: str) -> dict[str, object]:
    """Option name → default, for help texts and docs."""
    return asdict(METHODS[method][0]())


def _config(method: str, options: dict):
    if method not in METHODS:
        raise TailscopeError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    known = method_options(method)
    for key in options:
        if key not in known:
            raise TailscopeError(
                f"unknown option {key!r} for method {method}: use one of {', '.join(known)}"
            )
    try:
        return METHODS[method][0](**options)
    except ValidationError as exc:
        where, message, value = first_problem(exc)
        raise TailscopeError(
            f"option {where} of method {method}: {message} (got {value!r})"
        ) from None


def validate_method_options(method: str, options: dict) -> None:
    _config(method, options)


def make_optimizer(method: str, objective: Objective, options: dict):
    return METHODS[method][1](objective, _config(method, options))
