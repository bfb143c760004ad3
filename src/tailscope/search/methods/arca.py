"""ARCA (Jones et al., ICML 2023): coordinate ascent whose candidates at each coordinate are
ranked by the exact autoregressive term plus a first-order estimate of the rest averaged
over `n_grad_avg` random tokens there, plus the exact unigram terms."""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass

from tailscope.search.coordinate import CoordinateAscent
from tailscope.search.methods import SEARCH_METHODS
from tailscope.search.objective import Objective


@dataclass
class ArcaConfig:
    n_grad_avg: int = Field(8, ge=1)
    n_candidates: int = Field(32, ge=1)


@SEARCH_METHODS.register
class Arca(CoordinateAscent):
    name = "arca"
    summary = "ARCA coordinate ascent (Jones et al. 2023)"
    Config = ArcaConfig
    order = 0

    def __init__(self, objective: Objective, config: ArcaConfig):
        super().__init__(objective, config.n_candidates, config.n_grad_avg)
