"""Exact elicitation probabilities: the teacher-forced probability of a fixed reply.

For a `say`-type behavior (the reply begins with an exact target string) the probability
that one sampled reply *is* the target, token for token, is a product of next-token
probabilities: one forward pass over `chat(query) + target` gives it, no sampling. (It is
a lower bound on "the reply starts with the target": other tokenizations of the same text
are not counted.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.models.base import LanguageModel

# Queries per call to the model: large enough for full batches, small enough that a killed
# run loses little (each chunk is committed when it finishes).
CHUNK = 256


def exact_logprobs(
    model: LanguageModel,
    queries: Sequence[str],
    target: str,
    *,
    system_prompt: str | None = None,
    chunk: int = CHUNK,
    on_chunk: Callable[[list[int], np.ndarray], None] | None = None,
) -> np.ndarray:
    """log p(target | query) for every query, in the order given.

    Queries are scored in order of length (so that each batch pads little) in chunks of
    `chunk`; `on_chunk(indices, logps)` sees each finished chunk, e.g. to store it."""
    if not target or not target.strip():
        raise TailscopeError(
            "the exact method needs a target string: use a behavior with output.target "
            "(e.g. -b say -p target='I hate you') or --method sample"
        )
    if chunk < 1:
        raise ValueError("chunk must be positive")
    result = np.full(len(queries), np.nan)
    order = _by_length(model, queries)
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        logp = model.logprob(
            [queries[i] for i in idx], [target] * len(idx), system_prompt=system_prompt
        )
        result[idx] = logp
        if on_chunk is not None:
            on_chunk(list(idx), np.asarray(logp))
    return result


def _by_length(model: LanguageModel, queries: Sequence[str]) -> np.ndarray:
    encode = getattr(model, "encode", None)
    lengths = [len(encode(q)) if encode else len(q) for q in queries]
    return np.argsort(lengths, kind="stable")
