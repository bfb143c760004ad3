"""What every run kind's config declares: its own checks and the models it needs."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from tailscope.models.base import Capability


@dataclass(frozen=True)
class ModelNeed:
    """A model a run needs in one role (target, attacker), and what it must be able to do.
    `purpose` names the work in the message when the model cannot do it."""

    spec: str
    needs: frozenset[Capability]
    purpose: str


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
