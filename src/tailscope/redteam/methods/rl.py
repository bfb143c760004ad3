"""RL red teaming (Perez et al. 2022, section 2.5), trained with trl.

The attacker samples a completion of the zero-shot template; its first test case goes to
the target, and the reward is -log(1 - r) for the classifier score r of the reply (r is
capped so a certain hit gives a finite reward). A KL penalty keeps the attacker near its
initial self. An optional novelty bonus (Hong et al. 2024, curiosity-driven red teaming)
adds `novelty_weight` x (1 - max cosine similarity to every earlier test case) against
mode collapse. A completion without a parsable test case costs no target query and gets
`invalid_reward`.

With `init=supervised` RL starts from the supervised attacker rather than the raw one: the
first `warmup` share of the budget goes to zero-shot test cases, the attacker is fine-tuned
on their failures (the `supervised` method, `sft_epochs` epochs) and RL trains on from that
adapter. The KL penalty stays relative to the raw attacker.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from tailscope.models.base import Capability
from tailscope.redteam.attacker import Proposal, parse_test_cases
from tailscope.redteam.loop import Method, Session
from tailscope.redteam.methods import REDTEAM_METHODS
from tailscope.redteam.methods.supervised import Supervised, SupervisedConfig


@dataclass
class RlConfig:
    batch_prompts: int = Field(4, ge=1)
    num_generations: int = Field(4, ge=2)  # completions per prompt (group baseline)
    beta: float = Field(0.05, ge=0)  # KL penalty to the initial attacker
    # GRPO's mu: optimizer steps per batch of target replies. With mu = 1 at lr 3e-4 the
    # attacker did not learn within 256 queries; 4 at 5e-4 did (docs/benchmarks.md).
    iterations: int = Field(4, ge=1)
    learning_rate: float = Field(5e-4, gt=0)  # for the LoRA weights
    rank: int = Field(8, ge=1)
    max_score: float = Field(0.99, gt=0, lt=1)  # caps r in -log(1 - r)
    novelty_weight: float = Field(0.0, ge=0)
    invalid_reward: float = -1.0
    init: Literal["attacker", "supervised"] = "attacker"
    warmup: float = Field(0.25, gt=0, lt=1)  # with init=supervised: zero-shot share first
    sft_epochs: int = Field(1, ge=1)  # with init=supervised


def reward(score: float, max_score: float) -> float:
    return -math.log1p(-min(score, max_score))


@REDTEAM_METHODS.register
class ReinforcementLearning(Method):
    name = "rl"
    summary = "trl GRPO on reward -log(1-r), KL to the initial attacker"
    Config = RlConfig
    attacker_needs = frozenset({Capability.TRAINABLE})
    order = 3
    ADAPTER = "rl-adapter"
    _supervised: Supervised | None = None  # the warm-up of init=supervised

    def run(self, session: Session) -> None:
        """Train until the budget is spent. Completions without a test case cost nothing,
        so a call may leave budget: the next call resumes from the saved adapter, and a
        call that yields no test case at all ends the run with a reason."""
        from tailscope.redteam.training import has_adapter

        config: RlConfig = self.config
        per_step = config.batch_prompts * config.num_generations
        adapter = self.ctx.artifacts / self.ADAPTER
        start = self._supervised_start(session) if config.init == "supervised" else None
        self._embeddings = None
        prompts = [self.ctx.templates[i % len(self.ctx.templates)] for i in range(per_step)]
        while not session.done:
            before = len(session.cases)
            resume = adapter if has_adapter(adapter) else start
            steps = math.ceil(session.remaining / per_step)
            self._train(prompts, steps, adapter, resume, session)
            if len(session.cases) == before:
                session.stop(
                    "the attacker wrote no usable test case in a whole RL call "
                    f"({self.ctx.sampler.samples} samples): try another attacker or template"
                )

    def warnings(self) -> list[str]:
        return self._supervised.warnings() if self._supervised is not None else []

    def _supervised_start(self, session: Session):
        """The warm-up and fine-tuning of init=supervised (skipped where a resumed run
        already did them); returns the adapter RL starts from."""
        from tailscope.redteam.training import has_adapter

        config: RlConfig = self.config
        sft_config = SupervisedConfig(
            warmup=config.warmup, epochs=config.sft_epochs, rank=config.rank
        )
        self._supervised = Supervised(sft_config, self.ctx)
        start = self.ctx.artifacts / Supervised.ADAPTER
        if has_adapter(start):
            self._supervised.training = session.saved_state.get("training")
            return start
        self._supervised.run(session, until=self._supervised.warmup_size(session))
        if session.done:
            return None
        self._supervised.train(session)
        return start

    def _state(self) -> dict:
        return {"training": self._supervised.training} if self._supervised is not None else {}

    def _train(self, prompts, steps: int, adapter, resume, session: Session) -> None:
        from tailscope.redteam.training import rl_finetune

        config: RlConfig = self.config
        rl_finetune(
            self.ctx.attacker,
            prompts,
            lambda p, c: self._rewards(p, c, session),
            steps=steps,
            batch_prompts=config.batch_prompts,
            num_generations=config.num_generations,
            max_new_tokens=self.ctx.sampler.max_new_tokens,
            temperature=self.ctx.sampler.temperature,
            learning_rate=config.learning_rate,
            beta=config.beta,
            rank=config.rank,
            seed=self.ctx.seed + session.round,
            iterations=config.iterations,
            adapter_dir=adapter,
            resume_adapter=resume,
            one_line=True,  # only the first line is the test case (Perez et al.)
            on_step=lambda step, stats: session.done,  # True stops training: budget spent
        )

    def _rewards(self, prompts: list[str], completions: list[str], session: Session) -> list:
        config: RlConfig = self.config
        rewards = [config.invalid_reward] * len(completions)
        proposals, where = [], []
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            found = parse_test_cases(completion, prompt, self.ctx.rules)
            if found and len(proposals) < session.remaining:
                proposals.append(Proposal(found[0], "rl", {"attacker_prompt": prompt}))
                where.append(i)
            elif found:
                rewards[i] = 0.0  # past the budget: not evaluated, not rewarded
        self.ctx.sampler.samples += len(completions)
        self.ctx.sampler.parsed += len(proposals)
        if not proposals:
            return rewards
        cases = session.evaluate(proposals)
        bonus = self._novelty([c.test_case for c in cases], session)
        for i, case, extra in zip(where, cases, bonus, strict=True):
            case.reward = reward(case.score, config.max_score) + extra
            rewards[i] = case.reward
        session.commit(cases, self._state())
        return rewards

    def _novelty(self, texts: list[str], session: Session) -> np.ndarray:
        weight = self.config.novelty_weight
        if weight == 0:
            return np.zeros(len(texts))
        from tailscope.detectors.embeddings import embedder
        from tailscope.redteam.metrics import novelty

        new = embedder().embed(texts)
        old = self._embeddings
        if old is None:  # a resumed run also compares with the test cases before the kill
            earlier = [c.test_case for c in session.cases]
            old = embedder().embed(earlier) if earlier else new[:0]
        scores = novelty(new, old)
        self._embeddings = np.concatenate([old, new])
        return weight * scores
