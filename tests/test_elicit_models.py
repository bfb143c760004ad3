"""Exact and sampled elicitation probabilities on the tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tailscope.elicit.exact import exact_logprobs
from tailscope.elicit.sampling import sample_probabilities
from tailscope.errors import TailscopeError

QUERIES = [
    "Hi",
    "Hello there",
    "What is the capital of France, and why is it that city rather than another one?",
    "Tell me a joke about cats.",
]


def direct_logprob(model, query: str, target: str) -> float:
    """One unpadded, unbatched forward pass through the raw transformers model."""
    context = model.encode(model.chat_text(query))
    target_ids = model.encode(target)
    ids = torch.tensor([context + target_ids])
    with torch.no_grad():
        logits = model.model(input_ids=ids).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    return float(sum(logp[len(context) - 1 + j, t] for j, t in enumerate(target_ids)))


def test_exact_logprobs_equal_a_direct_unbatched_computation(tiny_model):
    target = "I hate you"
    batched = exact_logprobs(tiny_model, QUERIES, target)
    direct = [direct_logprob(tiny_model, q, target) for q in QUERIES]
    np.testing.assert_allclose(batched, direct, rtol=0, atol=2e-4)
    # Padding must not change a score: alone, in a small chunk, or with longer neighbours.
    alone = [exact_logprobs(tiny_model, [q], target)[0] for q in QUERIES]
    np.testing.assert_allclose(batched, alone, rtol=0, atol=2e-4)
    chunked = exact_logprobs(tiny_model, QUERIES, target, chunk=3)
    np.testing.assert_allclose(batched, chunked, rtol=0, atol=2e-4)


def test_exact_needs_a_target(tiny_model):
    with pytest.raises(TailscopeError, match="target string"):
        exact_logprobs(tiny_model, QUERIES, "  ")


def boost_token(model, queries: list[str], token: int, amount: float) -> None:
    """Raise one output token's logit by about `amount` at the reply's first position."""
    with torch.no_grad():
        states = []
        for q in queries:
            ids = torch.tensor([model.encode(model.chat_text(q))])
            states.append(model.model.model(input_ids=ids).last_hidden_state[0, -1])
        h = torch.stack(states).mean(0)
        model.model.lm_head.weight[token] += amount * h / h.norm() ** 2


def test_sampling_converges_to_the_exact_probability_of_a_one_token_reply(tiny_model):
    queries = QUERIES[:3]
    target = " radar"
    (token,) = tiny_model.encode(target)
    boost_token(tiny_model, queries, token, 11.0)
    exact = np.exp(exact_logprobs(tiny_model, queries, target))
    assert np.all((exact > 0.15) & (exact < 0.85)), exact  # a probability worth sampling

    # Other tokens whose text also starts with "radar" carry almost no mass here.
    for q, p in zip(queries, exact, strict=True):
        ids = torch.tensor([tiny_model.encode(tiny_model.chat_text(q))])
        with torch.no_grad():
            probs = torch.softmax(tiny_model.model(input_ids=ids).logits[0, -1].double(), -1)
        assert abs(float(probs[token]) - p) < 1e-4

    def is_hit(replies):
        return np.array([r.lstrip().startswith("radar") for r in replies])

    estimates = sample_probabilities(
        tiny_model, queries, is_hit, k=1000, max_new_tokens=1, seed=0, confidence=0.999
    )
    for estimate, p in zip(estimates, exact, strict=True):
        assert estimate.k == 1000
        assert estimate.low <= p <= estimate.high  # 99.9% interval
        assert abs(estimate.p - p) < 0.06
        assert estimate.high - estimate.low < 0.12


def test_adaptive_stopping_ends_decided_queries_early(tiny_model):
    queries = QUERIES[:2]
    target = " radar"
    (token,) = tiny_model.encode(target)
    boost_token(tiny_model, queries, token, 11.0)

    def is_hit(replies):
        return np.array([r.lstrip().startswith("radar") for r in replies])

    estimates = sample_probabilities(
        tiny_model, queries, is_hit, k=256, max_new_tokens=1, threshold=0.01, round_k=16, seed=1
    )
    for e in estimates:
        assert e.stopped_early and e.k < 256 and e.k % 16 == 0
        assert e.low > 0.01  # decided: its interval lies above the threshold
    # With no decision possible, every query uses all k samples.
    never = sample_probabilities(
        tiny_model,
        queries,
        lambda r: np.zeros(len(r), bool),
        k=32,
        max_new_tokens=1,
        threshold=0.5,
        round_k=64,
        seed=1,
    )
    assert [e.k for e in never] == [32, 32]


def test_bad_sampling_settings_are_errors(tiny_model):
    def never(replies):
        return np.zeros(len(replies), bool)

    with pytest.raises(TailscopeError, match="k = 0"):
        sample_probabilities(tiny_model, QUERIES, never, k=0)
    with pytest.raises(TailscopeError, match="temperature"):
        sample_probabilities(tiny_model, QUERIES, never, k=4, temperature=0)
    with pytest.raises(TailscopeError, match="empty"):
        sample_probabilities(tiny_model, [], never, k=4)
