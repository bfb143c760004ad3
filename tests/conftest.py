"""Shared fixtures: the real SmolLM2 tokenizer, a tiny random Llama built on it, and the
real default model for integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tailscope.models.hf import HFModel
from tailscope.models.registry import DEFAULT_MODEL, load_model, load_tokenizer


@pytest.fixture(scope="session")
def smol_tokenizer():
    return load_tokenizer(DEFAULT_MODEL)


def build_tiny_model(tokenizer, seed: int = 0) -> HFModel:
    """A 2-layer random Llama over the real SmolLM2 vocabulary: fast, deterministic."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    return HFModel(LlamaForCausalLM(config), tokenizer, name="tiny-random", source="test")


@pytest.fixture()
def tiny_model(smol_tokenizer) -> HFModel:
    return build_tiny_model(smol_tokenizer)


@pytest.fixture()
def tiny_model_dir(tmp_path, smol_tokenizer) -> Path:
    """The tiny random Llama saved as a transformers directory, as a user would pass it."""
    model = build_tiny_model(smol_tokenizer)
    path = tmp_path / "tiny-model"
    model.model.save_pretrained(path)
    smol_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def real_model() -> HFModel:
    return load_model(DEFAULT_MODEL)


@pytest.fixture(autouse=True)
def _isolated_workspace(tmp_path, monkeypatch):
    """Tests never write into the developer's workspace."""
    monkeypatch.setenv("TAILSCOPE_WORKSPACE", str(tmp_path / "workspace"))
