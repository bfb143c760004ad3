"""The candidate filters every optimizer's exact re-scoring goes through, so that a search
only climbs through prompts a user could type and the verifier would accept.

A candidate prompt is dropped, before it is scored, when its decoded text
- does not re-encode to the same ids (`roundtrip`),
- contains a forbidden text of the behavior, case-insensitively as the verifier checks it,
  also when the text is assembled across token boundaries ("d" + "arning") (`forbidden_text`),
- optionally, fails the behavior's detector constraints on the prompt (`constraints`): one
  batched detector call per step. Only while the current prompt satisfies them, so a search
  that starts outside them can still move (their unigram terms pull it in), and once inside
  it never leaves.
The counts per reason go into the step trace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from tailscope.search.tokens import survives_round_trip

REASONS = ("roundtrip", "forbidden_text", "constraints")

ConstraintCheck = Callable[[Sequence[str]], np.ndarray]  # texts -> bool per text


@dataclass(frozen=True)
class PromptRules:
    """What a candidate prompt's text must satisfy during search."""

    forbidden: tuple[str, ...] = ()  # casefolded forbidden texts
    constraints: ConstraintCheck | None = None

    @classmethod
    def of(cls, forbid_in_prompt: Sequence[str], constraints: ConstraintCheck | None = None):
        return cls(tuple(s.casefold() for s in forbid_in_prompt), constraints)

    def contains_forbidden(self, text: str) -> bool:
        folded = text.casefold()
        return any(needle in folded for needle in self.forbidden)

    def merged(self, other: PromptRules) -> PromptRules:
        """Rules that hold when both hold (universal mode: one prompt, several behaviors)."""
        checks = [c for c in (self.constraints, other.constraints) if c is not None]
        both = None
        if len(checks) == 2:
            both = lambda texts: checks[0](texts) & checks[1](texts)  # noqa: E731
        elif checks:
            both = checks[0]
        return PromptRules(tuple(dict.fromkeys(self.forbidden + other.forbidden)), both)


@dataclass
class Filtered:
    keep: torch.Tensor  # bool [rows]
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows dropped for it
    seconds: float = 0.0  # time spent filtering, the cost the benchmark reports


def filter_candidates(
    tokenizer, rules: PromptRules, rows: torch.Tensor, current: torch.Tensor | None = None
) -> Filtered:
    """Which candidate prompt rows [B, L] may be scored. Each row is counted under the first
    reason that drops it. `current` is the prompt the step starts from: the detector
    constraints are enforced only while it satisfies them."""
    started = time.perf_counter()
    texts = tokenizer.batch_decode(rows.tolist())
    keep = survives_round_trip(tokenizer, rows)
    dropped = {"roundtrip": int((~keep).sum())}
    forbidden = torch.tensor([rules.contains_forbidden(t) for t in texts], device=keep.device)
    dropped["forbidden_text"] = int((keep & forbidden).sum())
    keep &= ~forbidden
    if rules.constraints is not None:
        failing = _failing_constraints(tokenizer, rules.constraints, texts, keep, current)
        dropped["constraints"] = int((keep & failing).sum())
        keep &= ~failing
    return Filtered(keep, dropped, time.perf_counter() - started)


def _failing_constraints(tokenizer, check, texts, keep, current) -> torch.Tensor:
    """Rows (among those still kept) whose text fails the constraints, scored in one batch
    together with the current prompt; none while the current prompt fails them itself."""
    failing = torch.zeros_like(keep)
    index = keep.nonzero()[:, 0].tolist()
    batch = [texts[i] for i in index]
    if current is not None:
        batch.append(tokenizer.decode(current.tolist()))
    if not batch:
        return failing
    ok = np.asarray(check(batch), dtype=bool)
    if current is not None and not ok[-1]:
        return failing
    for i, passed in zip(index, ok[: len(index)], strict=True):
        failing[i] = not passed
    return failing
