"""What every run kind's config declares: its own checks and the models it needs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from tailscope.errors import TailscopeError
from tailscope.models.base import Capability


@dataclass(frozen=True)
class ModelNeed:
    """A model a run needs in one role (target, attacker), and what it must be able to do.
    `purpose` names the work in the message when the model cannot do it; `generates`
    names each generation length the run asks of this model (option → tokens), which must
    fit in the model's context."""

    spec: str
    needs: frozenset[Capability]
    purpose: str
    generates: dict[str, int] = field(default_factory=dict)


def reject_non_finite(value, where: str = "config") -> None:
    """NaN or an infinity anywhere in a config is a mistake (and not valid JSON): one line
    naming the field. Pydantic's float fields accept both, so the run layer checks."""
    if isinstance(value, float) and not math.isfinite(value):
        option = where.rpartition(".")[2].replace("_", "-")
        raise TailscopeError(f"{option} must be a finite number, got {value} ({where})")
    if isinstance(value, dict):
        for key, item in value.items():
            reject_non_finite(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            reject_non_finite(item, f"{where}.{index}")


class RunConfig(BaseModel):
    """Everything that determines a run, recorded with it (`extra="forbid"`: a typo in a
    recorded config is an error, not a silently different run)."""

    model_config = ConfigDict(extra="forbid")

    def check(self) -> None:
        """Validate what needs no model: behaviors load, options parse, numbers are sane.
        Raise TailscopeError with one line naming the problem and the fix."""

    def model_needs(self) -> dict[str, ModelNeed]:
        """Role → the model it needs; the run layer checks capabilities, then loads each
        distinct spec once."""
        return {}
