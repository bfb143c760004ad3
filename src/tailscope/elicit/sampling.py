"""Sampled elicitation probabilities: k replies per query, the behavior's check on each.

All queries of a call are sampled together: `LanguageModel.generate` batches prompts and
their n samples into one KV-cached decoding loop, so there is no per-query model call. With
a `threshold`, samples are drawn in rounds and a query stops once its interval lies wholly
above or below the threshold (adaptive stopping); the interval stays valid for the samples
actually drawn, though stopping on it makes the nominal coverage approximate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.models.base import LanguageModel
from tailscope.stats import binomial_interval, decided

MAX_EXAMPLES = 2  # replies kept per query for the report (hits first)


@dataclass
class SampledEstimate:
    hits: int
    k: int
    p: float  # hits / k: may be exactly 0 or 1; the interval says how sure
    low: float
    high: float
    stopped_early: bool = False
    examples: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def check_sampling(k: int, temperature: float, round_k: int | None = None) -> None:
    if k < 1:
        raise TailscopeError(f"k = {k} samples per query: pass --k 1 or more")
    if not temperature > 0:
        raise TailscopeError(
            f"temperature {temperature} is not > 0: sampling needs a positive temperature "
            "(1.0 samples the model as it is; use --method exact for a fixed reply)"
        )
    if round_k is not None and round_k < 1:
        raise TailscopeError(f"round size {round_k} must be at least 1")


def sample_probabilities(
    model: LanguageModel,
    queries: Sequence[str],
    is_hit: Callable[[list[str]], np.ndarray],
    *,
    k: int,
    temperature: float = 1.0,
    max_new_tokens: int = 16,
    threshold: float | None = None,
    round_k: int | None = None,
    confidence: float = 0.95,
    interval: str = "wilson",
    seed: int = 0,
    system_prompt: str | None = None,
) -> list[SampledEstimate]:
    """One estimate per query. `is_hit(replies)` is the behavior's output check."""
    check_sampling(k, temperature, round_k)
    if not queries:
        raise TailscopeError("the query pool is empty: import or generate queries first")
    tally = _Tally(len(queries))
    step = k if threshold is None else (round_k or min(k, 8))
    round_index = 0
    while True:
        active = np.flatnonzero((tally.done < k) & ~tally.stopped)
        if active.size == 0:
            break
        # every active query has drawn the same number of samples so far
        draws = int(min(step, k - tally.done[active].min()))
        replies = model.generate(
            [queries[i] for i in active],
            n=draws,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            seed=seed + round_index,
            system_prompt=system_prompt,
        )
        flat = [r for group in replies for r in group]
        tally.add(active, replies, np.asarray(is_hit(flat), dtype=bool).reshape(-1, draws))
        if threshold is not None:
            low, high = binomial_interval(
                tally.hits[active], tally.done[active], confidence, interval
            )
            tally.stopped[active] = decided(low, high, threshold) & (tally.done[active] < k)
        round_index += 1
    return tally.estimates(confidence, interval)


class _Tally:
    """Hits, samples drawn and early stops per query, and a few replies of each."""

    def __init__(self, count: int):
        self.hits = np.zeros(count, dtype=int)
        self.done = np.zeros(count, dtype=int)
        self.stopped = np.zeros(count, dtype=bool)
        self.examples: list[tuple[list[str], list[str]]] = [([], []) for _ in range(count)]

    def add(self, active: np.ndarray, replies: list[list[str]], ok: np.ndarray) -> None:
        self.hits[active] += ok.sum(axis=1)
        self.done[active] += ok.shape[1]
        for row, i in enumerate(active):  # the first MAX_EXAMPLES hits and misses
            for reply, hit in zip(replies[row], ok[row], strict=True):
                kept = self.examples[i][0 if hit else 1]
                if len(kept) < MAX_EXAMPLES:
                    kept.append(reply)

    def estimates(self, confidence: float, interval: str) -> list[SampledEstimate]:
        low, high = binomial_interval(self.hits, self.done, confidence, interval)
        return [
            SampledEstimate(
                hits=int(self.hits[i]),
                k=int(self.done[i]),
                p=float(self.hits[i] / self.done[i]),
                low=float(low[i]),
                high=float(high[i]),
                stopped_early=bool(self.stopped[i]),
                examples=(hit + miss)[:MAX_EXAMPLES],
            )
            for i, (hit, miss) in enumerate(self.examples)
        ]
