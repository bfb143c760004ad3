"""Detector kinds by name, with parameter validation that ends in one clear line."""

from __future__ import annotations

from pydantic import ValidationError

from tailscope.detectors.base import Detector
from tailscope.errors import TailscopeError
from tailscope.registry import Registry

# Every module of this package may define a detector kind and register it here.
DETECTORS: Registry[type[Detector]] = Registry(
    "detector kind", packages=["tailscope.detectors"], key=lambda cls: cls.kind
)


def _param_help(cls) -> str:
    fields = cls.Params.model_fields
    if not fields:
        return "no parameters"
    return "; ".join(
        f"{name}{'' if f.is_required() else ' (optional)'}: {f.description}"
        for name, f in fields.items()
    )


def detector_kinds() -> dict[str, str]:
    """kind → one line: what it detects and its parameters."""
    return {cls.kind: f"{cls.summary}. Params: {_param_help(cls)}" for cls in DETECTORS.entries()}


def make_detector(kind: str, **params) -> Detector:
    """Build a detector of a registered kind; bad kinds and parameters raise TailscopeError."""
    cls = DETECTORS.get(kind)
    try:
        checked = cls.Params.model_validate(params)
    except ValidationError as e:
        raise TailscopeError(_explain(kind, cls, e)) from None
    return cls(**checked.model_dump())


def _explain(kind: str, cls, error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "parameters"
    expected = _param_help(cls)
    if first["type"] == "extra_forbidden":
        return f"detector {kind!r} has no parameter {field!r}: it takes {expected}"
    if first["type"] == "missing":
        return f"detector {kind!r} needs parameter {field!r}: it takes {expected}"
    return f"detector {kind!r} parameter {field!r}: {first['msg']} (it takes {expected})"
