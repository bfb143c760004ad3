"""Supervised red teaming (Perez et al. 2022, section 2.4): spend part of the budget on
zero-shot test cases, fine-tune the attacker (LoRA, one epoch) on the failures among them,
then sample test cases from the fine-tuned attacker for the rest of the budget."""

from __future__ import annotations

import math

from pydantic import Field
from pydantic.dataclasses import dataclass

from tailscope.models.base import Capability
from tailscope.redteam.attacker import Proposal
from tailscope.redteam.loop import RoundMethod, Session
from tailscope.redteam.methods import REDTEAM_METHODS
from tailscope.store import RedTeamCase


@dataclass
class SupervisedConfig:
    warmup: float = Field(0.25, gt=0, lt=1)  # share of the budget spent zero-shot first
    # With fewer failures than this, the highest-scoring test cases fill the training set.
    min_examples: int = Field(8, ge=1)
    epochs: int = Field(1, ge=1)
    learning_rate: float = Field(5e-4, gt=0)
    rank: int = Field(8, ge=1)


@REDTEAM_METHODS.register
class Supervised(RoundMethod):
    name = "supervised"
    summary = "LoRA fine-tuning of the attacker on zero-shot failures"
    Config = SupervisedConfig
    attacker_needs = frozenset({Capability.TRAINABLE})
    order = 2
    ADAPTER = "sft-adapter"

    trained = False
    training: dict | None = None  # what the fine-tuning did, kept with the run

    def restore(self, state: dict, session: Session) -> None:
        from tailscope.redteam.training import has_adapter, load_adapter

        adapter = self.ctx.artifacts / self.ADAPTER
        if state.get("trained") and has_adapter(adapter):
            self.training = state.get("training")
            self._use(load_adapter(self.ctx.attacker, adapter, "sft"))

    def propose(self, count: int, session: Session, seed: int) -> list[Proposal]:
        if not self.trained:
            warmup = self.warmup_size(session)
            if len(session.cases) < warmup:
                count = min(count, warmup - len(session.cases))
                return self.zero_shot(count, session, seed, "zero-shot")
            self.train(session)
        return self.ctx.sampler.sample(self.ctx.templates, count, session.seen, seed, "supervised")

    def state(self) -> dict:
        return {"trained": self.trained, "training": self.training}

    def warnings(self) -> list[str]:
        t = self.training
        if t is None:
            return []
        note = (
            f"fine-tuned on {t['examples']} test cases ({t['failures']} failures), "
            f"loss {t['loss_before']:.2f} -> {t['loss_after']:.2f}"
        )
        if t["failures"] < t["examples"]:
            note += ": too few failures, the best-scoring other test cases filled in"
        return [note]

    def warmup_size(self, session: Session) -> int:
        return math.ceil(self.config.warmup * session.budget)

    def train(self, session: Session) -> None:
        """Fine-tune on the run's failures so far; the adapter is saved under artifacts."""
        from tailscope.redteam.training import finetune_lora

        examples = training_examples(session.cases, self.config.min_examples, self.ctx.templates)
        model, report = finetune_lora(
            self.ctx.attacker,
            examples,
            epochs=self.config.epochs,
            learning_rate=self.config.learning_rate,
            rank=self.config.rank,
            seed=self.ctx.seed,
            adapter_dir=self.ctx.artifacts / self.ADAPTER,
        )
        self.training = {
            "examples": report.examples,
            "failures": sum(c.hit for c in session.cases),
            "loss_before": report.loss_before,
            "loss_after": report.loss_after,
            "seconds": report.seconds,
        }
        self._use(model)

    def _use(self, model) -> None:
        self.ctx.sampler.attacker = model  # from now on, test cases come from the trained copy
        self.trained = True


def training_examples(
    cases: list[RedTeamCase], min_examples: int, templates: list[str]
) -> list[tuple[str, str]]:
    """(attacker prompt, test case) pairs: every failure, topped up with the best-scoring
    other test cases when there are fewer than `min_examples` failures."""
    ranked = sorted(cases, key=lambda c: (c.hit, c.score), reverse=True)
    chosen = [c for c in ranked if c.hit]
    if len(chosen) < min_examples:
        chosen = [c for c in ranked if c.hit or c.score > 0][:min_examples] or ranked[:1]
    return [(c.meta.get("attacker_prompt", templates[0]), c.test_case) for c in chosen]
