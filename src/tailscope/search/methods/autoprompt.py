"""AutoPrompt (Shin et al., 2020): coordinate ascent ranking candidates by the first-order
estimate at the *current* token only (plus the unigram terms)."""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass

from tailscope.search.coordinate import CoordinateAscent
from tailscope.search.methods import SEARCH_METHODS
from tailscope.search.objective import Objective


@dataclass
class AutoPromptConfig:
    n_candidates: int = Field(32, ge=1)


@SEARCH_METHODS.register
class AutoPrompt(CoordinateAscent):
    name = "autoprompt"
    summary = "AutoPrompt (Shin et al. 2020)"
    Config = AutoPromptConfig
    order = 2

    def __init__(self, objective: Objective, config: AutoPromptConfig):
        super().__init__(objective, config.n_candidates, None)
