"""Exact log-probabilities through a completions endpoint that echoes the prompt with its
token log-probabilities (`echo: true, logprobs: 0`, as vLLM's completions do). The
continuation's log-probability is the sum over the echoed tokens that start inside it."""

from __future__ import annotations

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.models.endpoint.client import Request

_PROBE = ("Hello", " world")


def _body(model, text: str) -> dict:
    return {
        "model": model.model,
        "prompt": text,
        "max_tokens": 1,
        "temperature": 0.0,
        "echo": True,
        "logprobs": 0,
    }


def score_continuations(model, prompts, continuations, system_prompt=None) -> np.ndarray:
    heads = [model._input(p, system_prompt, "")["prompt"] for p in prompts]
    requests = [
        Request("logprobs", _body(model, head + cont), (len(head) + len(cont)) // 4 + 1)
        for head, cont in zip(heads, continuations, strict=True)
    ]
    results: dict[int, object] = {}
    model.client.run_all(requests, lambda done: results.update(done))
    scores = []
    for i, (head, cont) in enumerate(zip(heads, continuations, strict=True)):
        scores.append(_continuation_logprob(results[i], len(head), len(head) + len(cont)))
    return np.asarray(scores, dtype=np.float64)


def _continuation_logprob(logprobs, start: int, end: int) -> float:
    offsets = getattr(logprobs, "text_offset", None)
    values = getattr(logprobs, "token_logprobs", None)
    if not offsets or not values or len(offsets) != len(values):
        raise TailscopeError("the endpoint's reply holds no prompt log-probabilities")
    inside = [v for o, v in zip(offsets, values, strict=True) if start <= o < end]
    return float(sum(v for v in inside if v is not None))


def check_prompt_logprobs(model) -> None:
    """One line unless the endpoint returns the echoed prompt's log-probabilities."""
    try:
        score_continuations(model, [_PROBE[0]], [_PROBE[1]])
    except TailscopeError as exc:
        if "log-probabilities" not in str(exc):
            raise
        raise TailscopeError(
            f"endpoint {model.client.base_url} returns no prompt log-probabilities "
            "(completions with echo and logprobs), so it cannot score exactly: drop "
            "`logprobs: true` from the target's options, or use an endpoint that returns "
            "them (vLLM's completions do)"
        ) from None
