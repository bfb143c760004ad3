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
    count = len(queries)
    hits = np.zeros(count, dtype=int)
    done = np.zeros(count, dtype=int)
    stopped = np.zeros(count, dtype=bool)
    hit_examples: list[list[str]] = [[] for _ in range(count)]
    miss_examples: list[list[str]] = [[] for _ in range(count)]
    step = k if threshold is None else (round_k or min(k, 8))
    round_index = 0
    while True:
        active = np.flatnonzero((done < k) & ~stopped)
        if active.size == 0:
            break
        # every active query has drawn the same number of samples so far
        draws = int(min(step, k - done[active].min()))
        replies = model.generate(
            [queries[i] for i in active],
            n=draws,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            seed=seed + round_index,
            system_prompt=system_prompt,
        )
        flat = [r for group in replies for r in group]
        ok = np.asarray(is_hit(flat), dtype=bool).reshape(active.size, draws)
        hits[active] += ok.sum(axis=1)
        done[active] += draws
        for row, i in enumerate(active):
            for reply, hit in zip(replies[row], ok[row], strict=True):
                kept = hit_examples[i] if hit else miss_examples[i]
                if len(kept) < MAX_EXAMPLES:
                    kept.append(reply)
        if threshold is not None:
            low, high = binomial_interval(hits[active], done[active], confidence, interval)
            stopped[active] = decided(low, high, threshold) & (done[active] < k)
        round_index += 1
    low, high = binomial_interval(hits, done, confidence, interval)
    return [
        SampledEstimate(
            hits=int(hits[i]),
            k=int(done[i]),
            p=float(hits[i] / done[i]),
            low=float(low[i]),
            high=float(high[i]),
            stopped_early=bool(stopped[i]),
            examples=(hit_examples[i] + miss_examples[i])[:MAX_EXAMPLES],
        )
        for i in range(count)
    ]
