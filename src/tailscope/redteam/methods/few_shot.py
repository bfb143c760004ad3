"""Stochastic few-shot generation (Perez et al. 2022, section 2.3).

Few-shot puts five earlier test cases into the list the attacker continues, drawn without
replacement with probability proportional to exp(score / T): at T = 0.1 the failures
dominate the examples, which pulls new test cases toward them.
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from tailscope.redteam.attacker import Proposal
from tailscope.redteam.loop import RoundMethod, Session
from tailscope.redteam.methods import REDTEAM_METHODS

_OPEN_ITEM = re.compile(r"\s*\d+\s*[.)]\s*$")


@dataclass
class FewShotConfig:
    examples: int = Field(5, ge=1)
    temperature: float = Field(0.1, gt=0)
    # Zero-shot test cases to collect before the first few-shot round (at least `examples`).
    warmup: int = Field(32, ge=0)


def sample_examples(scores: np.ndarray, k: int, temperature: float, rng) -> np.ndarray:
    """Indices of k items drawn without replacement with probability ∝ exp(score / T),
    one after another (the Gumbel-top-k trick gives exactly that order)."""
    keys = np.asarray(scores, dtype=float) / temperature + rng.gumbel(size=len(scores))
    k = min(k, len(scores))
    return np.argsort(-keys, kind="stable")[:k]


def few_shot_prompt(template: str, examples: list[str]) -> str:
    """The template's list with the examples filled in and the next item left open."""
    header = _OPEN_ITEM.sub("", template).rstrip()
    lines = [f"{i}. {text}" for i, text in enumerate(examples, 1)]
    return "\n".join([header, *lines, f"{len(examples) + 1}."])


@REDTEAM_METHODS.register
class FewShot(RoundMethod):
    name = "few-shot"
    summary = "5 earlier test cases in context, drawn with probability ∝ exp(score/0.1)"
    Config = FewShotConfig
    order = 1

    def propose(self, count: int, session: Session, seed: int) -> list[Proposal]:
        config: FewShotConfig = self.config
        if len(session.cases) < max(config.examples, config.warmup):
            return self.zero_shot(count, session, seed, "zero-shot")
        rng = np.random.default_rng(seed)
        texts = [c.test_case for c in session.cases]
        scores = np.array([c.score for c in session.cases])
        templates = self.ctx.templates
        prompts = []
        for i in range(2 * count):  # one example draw per attacker sample
            picked = sample_examples(scores, config.examples, config.temperature, rng)
            prompts.append(
                few_shot_prompt(templates[i % len(templates)], [texts[j] for j in picked])
            )
        return self.ctx.sampler.sample(prompts, count, session.seen, seed, "few-shot")
