"""The vllm backend: on a CUDA GPU with vLLM installed, greedy replies and exact
log-probabilities equal the in-process transformers model's and a sampled elicitation runs;
on a machine without a GPU, those tests skip and the backend is one line."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from tests.cli import assert_one_line_error, tailscope

HAS_GPU = torch.cuda.is_available()
HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_gpu = pytest.mark.skipif(
    not (HAS_GPU and HAS_VLLM),
    reason="the vllm backend needs a CUDA GPU and vLLM; this machine has "
    + ("no vLLM" if HAS_GPU else "no GPU"),
)
PROMPTS = ["What is the capital of France?", "Write a haiku about rain.", "Say hi."]


@needs_gpu
@pytest.mark.slow
def test_vllm_replies_and_logprobs_equal_the_in_process_model(real_model):
    from tailscope.models.registry import load_model

    engine = load_model("vllm:smollm2-135m-instruct")
    assert engine.generate(PROMPTS, max_new_tokens=16) == real_model.generate(
        PROMPTS, max_new_tokens=16
    )
    replies = ["Paris.", "Rain falls softly", "Hi!"]
    np.testing.assert_allclose(
        engine.logprob(PROMPTS, replies), real_model.logprob(PROMPTS, replies), atol=1e-3
    )
    sampled = engine.generate(PROMPTS, n=4, temperature=1.0, seed=3, max_new_tokens=8)
    assert [len(r) for r in sampled] == [4, 4, 4]
    assert sampled == engine.generate(PROMPTS, n=4, temperature=1.0, seed=3, max_new_tokens=8)


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU; the no-GPU message cannot show")
def test_vllm_without_a_gpu_is_one_line(tmp_path):
    pool = tmp_path / "qs.txt"
    pool.write_text("hello?\n")
    ws = tmp_path / "ws"
    assert tailscope("queries", "import", str(pool), "--pool", "qs", workspace=ws).returncode == 0
    result = tailscope(
        "elicit",
        "-m",
        "vllm:smollm2-135m-instruct",
        "-b",
        "say",
        "-p",
        "target=Hi",
        "--pool",
        "qs",
        "--method",
        "exact",
        workspace=ws,
    )
    assert_one_line_error(result, "the vllm backend needs a CUDA GPU", "drop the vllm: prefix")
