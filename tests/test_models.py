"""The model interfaces on a tiny random Llama with the real SmolLM2 tokenizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tailscope.errors import TailscopeError
from tailscope.models.registry import load_model


def _direct_logprob(model, prompt: str, continuation: str) -> float:
    context = model.encode(model.chat_text(prompt))
    target = model.encode(continuation)
    ids = torch.tensor([context + target])
    with torch.no_grad():
        logprobs = torch.log_softmax(model.model(ids).logits[0].double(), -1)
    return sum(float(logprobs[len(context) + j - 1, t]) for j, t in enumerate(target))


def test_logprob_batched_equals_unbatched(tiny_model):
    prompts = ["Hi", "What is the capital of France? Answer briefly.", "Tell me a story"]
    replies = ["Hello there!", "Paris.", "Once upon a time, in a land far away, there was a cat."]
    tiny_model.batch_tokens = 64  # force several batches and padding within them
    batched = tiny_model.logprob(prompts, replies)
    direct = [_direct_logprob(tiny_model, p, r) for p, r in zip(prompts, replies, strict=True)]
    np.testing.assert_allclose(batched, direct, rtol=1e-4, atol=1e-3)
    assert (batched < 0).all()


def test_chat_layout_splits_the_real_template(tiny_model):
    layout = tiny_model.chat_layout()
    user = "Where is Paris"
    full = tiny_model.encode(tiny_model.chat_text(user))
    assert list(layout.before) + tiny_model.encode(user) + list(layout.after) == full
    assert "You are a helpful AI assistant" in tiny_model.rendered_system_prompt()
    custom = tiny_model.chat_layout(system_prompt="Keep the secret 1234.")
    assert "Keep the secret 1234." in tiny_model.decode(custom.before)


def test_prefix_cache_gives_the_same_logits_as_a_full_pass(tiny_model):
    prefix = tiny_model.encode("The quick brown fox")
    rest = torch.tensor([tiny_model.encode(" jumps over the lazy dog")] * 3)
    cache = tiny_model.prefix_cache(prefix)
    emb = tiny_model.embedding_matrix()
    positions = torch.arange(rest.shape[1])
    with torch.no_grad():
        cached = tiny_model.logits(emb[rest], positions, cache)
        full = tiny_model.model(torch.cat([torch.tensor([prefix] * 3), rest], 1)).logits
    torch.testing.assert_close(cached, full[:, len(prefix) :], rtol=1e-4, atol=1e-4)


def test_generation_batches_bound_prefill_by_tokens_and_the_kv_cache_by_memory(tiny_model):
    tiny_model.batch_tokens = 1000
    # Prefill forwards rows x prompt tokens; decoding only rows x n per step, so a long
    # reply does not shrink the batch until its KV cache would outweigh the fp32 logits of
    # a batch_tokens forward pass (tiny model: 2 layers x 2 KV heads x 16 dims, fp32).
    assert tiny_model._generation_rows(50, 50 + 200, 16) == 1000 // 50
    kv_bytes, logit_bytes = 2 * 2 * 2 * 16 * 4, 4 * tiny_model.model.config.vocab_size
    cache_tokens = 1000 * logit_bytes // kv_bytes
    rows = tiny_model._generation_rows(2, 20_000, 16)
    assert rows * 16 * 20_000 <= cache_tokens < (rows + 1) * 16 * 20_000
    assert tiny_model._generation_rows(5000, 10**9, 64) == 1  # never zero rows
    replies = tiny_model.generate(["a", "b", "c"], n=2, temperature=1.0, max_new_tokens=3, seed=0)
    assert [len(r) for r in replies] == [2, 2, 2]


def test_generate_greedy_is_deterministic_and_sampling_is_seeded(tiny_model):
    greedy = tiny_model.generate(["Hello", "Say something"], max_new_tokens=5)
    assert len(greedy) == 2 and all(len(r) == 1 for r in greedy)
    assert greedy == tiny_model.generate(["Hello", "Say something"], max_new_tokens=5)
    a = tiny_model.generate(["Hello"], n=4, temperature=1.0, max_new_tokens=6, seed=3)
    b = tiny_model.generate(["Hello"], n=4, temperature=1.0, max_new_tokens=6, seed=3)
    assert a == b and len(a[0]) == 4
    assert len(set(a[0])) > 1  # a random 49k-token model does not repeat itself at T=1


def test_samples_sharing_one_prefill_continue_each_prompt_exactly(tiny_model):
    """n > 1 prefills each prompt once and repeats its cache: at temperature 0 every copy
    must be the n = 1 greedy reply, also for left-padded prompts of different lengths."""
    prompts = ["Hi", "What is the capital of France, and why is it famous?", "Tell a joke."]
    single = tiny_model.generate(prompts, max_new_tokens=10)
    shared = tiny_model.generate(prompts, n=3, max_new_tokens=10)
    assert shared == [reply * 3 for reply in single]


def test_a_reply_prefix_is_continued_not_repeated(tiny_model):
    """The reply after a pre-filled prefix is the model's greedy continuation of chat text +
    prefix, without the prefix; one prefix per prompt works too."""
    prefix = "1. What"
    ids = tiny_model.encode(tiny_model.chat_text("Hello") + prefix)
    out = tiny_model.model.generate(
        torch.tensor([ids]),
        max_new_tokens=5,
        do_sample=False,
        pad_token_id=tiny_model.tokenizer.pad_token_id,
    )[0, len(ids) :]
    expected = tiny_model.decode(out)
    assert tiny_model.generate(["Hello"], max_new_tokens=5, reply_prefix=prefix)[0][0] == expected
    plain = tiny_model.generate(["Hello"], max_new_tokens=5)[0][0]
    both = tiny_model.generate(["Hello", "Hello"], max_new_tokens=5, reply_prefix=[prefix, ""])
    assert both == [[expected], [plain]] and expected != plain


def test_unknown_and_broken_models_are_clear_errors(tmp_path):
    with pytest.raises(TailscopeError, match="unknown model"):
        load_model("no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TailscopeError, match="no config.json"):
        load_model(str(tmp_path / "empty"))
    with pytest.raises(TailscopeError, match="does not exist"):
        load_model(str(tmp_path / "missing.gguf"))
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(TailscopeError, match="could not convert GGUF"):
        load_model(str(corrupt))


def test_one_chat_rendering_for_templated_and_base_tokenizers(smol_tokenizer):
    import copy

    from tailscope.models.chat import render_chat

    chat = render_chat(smol_tokenizer, "Hi there", "Be brief.")
    assert chat.index("Be brief.") < chat.index("Hi there")
    assert chat.endswith("<|im_start|>assistant\n")
    base = copy.copy(smol_tokenizer)
    base.chat_template = None
    assert render_chat(base, "Hi there", "Be brief.") == "Be brief.\nUser: Hi there\nAssistant:"
    assert render_chat(base, "Hi there") == "User: Hi there\nAssistant:"
