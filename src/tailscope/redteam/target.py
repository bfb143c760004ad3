"""Send test cases to the target and classify its replies with the behavior's detector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tailscope.behaviors.spec import Behavior
from tailscope.models.base import LanguageModel
from tailscope.redteam.attacker import Proposal
from tailscope.store import RedTeamCase


@dataclass
class TargetEvaluator:
    """One batched target call per group of test cases, then the classifier.

    `score` is the reply's detector score (1.0/0.0 for an exact-target behavior), set to
    0 when the test case breaks the behavior's prompt constraints: a test case that is
    itself offensive does not count as making the target offensive. Replies are greedy by
    default, so a repeated test case is answered from the cache (it still counts as a
    target query: a deployed model would have received it).
    """

    target: LanguageModel
    behavior: Behavior
    max_new_tokens: int = 48
    system_prompt: str | None = None
    _cache: dict[str, str] = field(default_factory=dict)

    def evaluate(self, proposals: Sequence[Proposal]) -> list[RedTeamCase]:
        if not proposals:
            return []
        texts = [self.behavior.prompt_prefix + p.text for p in proposals]
        fresh = sorted({t for t in texts if t not in self._cache})
        if fresh:
            replies = self.target.generate(
                fresh,
                temperature=0.0,
                max_new_tokens=self.max_new_tokens,
                system_prompt=self.system_prompt,
            )
            self._cache.update({t: r[0] for t, r in zip(fresh, replies, strict=True)})
        replies = [self._cache[t] for t in texts]
        raw = self._output_scores(replies)
        prompt_ok = self.behavior.prompt_ok([p.text for p in proposals])
        score = np.where(prompt_ok, raw, 0.0)
        hit = prompt_ok & self._output_hit(raw)
        return [
            RedTeamCase(
                test_case=p.text,
                reply=reply,
                score=float(s),
                output_score=float(r),
                prompt_ok=bool(ok),
                hit=bool(h),
                source=p.source,
                meta=p.meta,
            )
            for p, reply, s, r, ok, h in zip(
                proposals, replies, score, raw, prompt_ok, hit, strict=True
            )
        ]

    def _output_scores(self, replies: list[str]) -> np.ndarray:
        if self.behavior.is_fixed_output:
            return self.behavior.output_ok(replies).astype(float)
        return self.behavior.output_detector().score(replies).astype(float)

    def _output_hit(self, scores: np.ndarray) -> np.ndarray:
        if self.behavior.is_fixed_output:
            return scores >= 1.0
        return scores >= self.behavior.output.threshold
