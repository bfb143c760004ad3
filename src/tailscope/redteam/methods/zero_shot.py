"""Zero-shot generation (Perez et al. 2022, section 2.2): the attacker gets the behavior's
templates as they are, and every parsed item is a test case."""

from __future__ import annotations

from pydantic.dataclasses import dataclass

from tailscope.redteam.attacker import Proposal
from tailscope.redteam.loop import RoundMethod, Session
from tailscope.redteam.methods import REDTEAM_METHODS


@dataclass
class ZeroShotConfig:
    pass


@REDTEAM_METHODS.register
class ZeroShot(RoundMethod):
    name = "zero-shot"
    summary = "the behavior's templates as they are"
    Config = ZeroShotConfig
    order = 0

    def propose(self, count: int, session: Session, seed: int) -> list[Proposal]:
        return self.zero_shot(count, session, seed, "zero-shot")
