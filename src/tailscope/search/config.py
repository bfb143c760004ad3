"""What determines a search run: the model, the behaviors and the search settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tailscope.behaviors.ref import BehaviorRef
from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.runs.config import ModelNeed, RunConfig
from tailscope.search.methods import method_config
from tailscope.search.problem import MAX_LENGTH


class SearchSettings(BaseModel):
    """Everything that determines a search, recorded with the run."""

    model_config = ConfigDict(extra="forbid")
    method: str = "arca"
    method_options: dict[str, float | int | bool | str] = Field(default_factory=dict)
    restarts: int = 1
    max_steps: int | None = 100
    max_seconds: float | None = None
    prompt_length: int | None = None
    output_length: int | None = None
    unigram_weight: float = 1.0
    lam_perp: float = 0.0
    allow_non_ascii: bool = False
    system_prompt: str | None = None
    placement: Literal["suffix", "prefix"] = "suffix"
    init_prompt: str | None = None
    loss: Literal["logprob", "mellowmax"] = "logprob"
    mellowmax_alpha: float = 1.0
    universal: bool = False  # one prompt for all behaviors (summed objective)
    # Run the behavior's prompt detectors on every candidate (batched, once per step) and
    # drop those that fail, as forbidden text and failed round trips always are.
    candidate_constraints: bool = False

    def check(self) -> None:
        if self.restarts < 1:
            raise TailscopeError(f"restarts must be at least 1, got {self.restarts}")
        if self.max_steps is None and self.max_seconds is None:
            raise TailscopeError("give a budget: --steps N and/or --seconds S")
        if self.max_steps is not None and self.max_steps < 1:
            raise TailscopeError(f"--steps must be at least 1, got {self.max_steps}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise TailscopeError(f"--seconds must be positive, got {self.max_seconds}")
        for label, value in (("prompt", self.prompt_length), ("output", self.output_length)):
            if value is not None and not 1 <= value <= MAX_LENGTH:
                raise TailscopeError(
                    f"{label} length {value} is out of range: use 1 to {MAX_LENGTH} tokens"
                )
        method_config(self.method, self.method_options)


class SearchConfig(RunConfig):
    model: str
    behaviors: list[BehaviorRef]
    settings: SearchSettings

    def check(self) -> None:
        if not self.behaviors:
            raise TailscopeError(
                "no behavior given: pass --behavior NAME (see `tailscope behaviors list`)"
            )
        self.settings.check()
        for ref in self.behaviors:
            ref.load()  # a bad behavior fails before the model loads

    def model_needs(self) -> dict[str, ModelNeed]:
        purpose = f"white-box search ({self.settings.method})"
        return {"target": ModelNeed(self.model, frozenset({Capability.WHITE_BOX}), purpose)}
