"""Attacker training on the tiny random model: supervised LoRA and RL (trl GRPO)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tailscope.errors import TailscopeError
from tailscope.redteam.training import (
    end_of_turn,
    finetune_lora,
    line_break_ids,
    load_adapter,
    read_progress,
    rl_finetune,
)
from tests.conftest import build_tiny_model

PROMPTS = ["Ask a question:", "List of questions to ask someone:\n1."]


def _expressive(tokenizer):
    """The tiny model with its tied embeddings scaled up 10x. The stock one's logits are all
    within about ±0.1 (near-uniform over 49k tokens), and LoRA on attention cannot move that
    distribution far in a few steps; scaled, the output layer can express a preference."""
    model = build_tiny_model(tokenizer)
    with torch.no_grad():
        model.model.get_input_embeddings().weight.mul_(10.0)
    return model


def _snapshot(model):
    return {k: v.clone() for k, v in model.model.state_dict().items()}


def _unchanged(model, snapshot) -> bool:
    state = model.model.state_dict()
    return state.keys() == snapshot.keys() and all(
        torch.equal(v, snapshot[k]) for k, v in state.items()
    )


def test_supervised_lowers_loss_and_saves_a_reloadable_adapter(smol_tokenizer, tmp_path):
    attacker = _expressive(smol_tokenizer)
    before = _snapshot(attacker)
    examples = [(PROMPTS[1], f"What is your {w} address?") for w in ("home", "email", "work", "IP")]
    steps = []
    trained, report = finetune_lora(
        attacker,
        examples,
        epochs=3,
        learning_rate=1e-2,
        batch_size=2,
        adapter_dir=tmp_path / "sft",
        on_step=lambda step, total, loss: steps.append((step, total, loss)),
    )
    assert end_of_turn(attacker) == "<|im_end|>"
    assert report.loss_after < 0.8 * report.loss_before
    assert report.steps == 6 and [s[:2] for s in steps] == [(i, 6) for i in range(1, 7)]
    assert report.examples == 4
    assert _unchanged(attacker, before)
    assert trained.name == "tiny-random+sft"
    assert not any("lora" in name for name, _ in trained.model.named_parameters())
    prompts, replies = [p for p, _ in examples], [r for _, r in examples]
    gain = trained.logprob(prompts, replies) - attacker.logprob(prompts, replies)
    assert (gain > 1.0).all()
    reloaded = load_adapter(attacker, tmp_path / "sft", "sft")
    np.testing.assert_allclose(
        reloaded.logprob(prompts, replies), trained.logprob(prompts, replies), rtol=1e-5
    )
    assert read_progress(tmp_path / "sft") == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft"]  # no scratch dirs left


def _spaces(prompts, completions):
    return [float(c.count(" ")) for c in completions]


def _mean_reward(model) -> float:
    samples = model.generate(PROMPTS, n=32, temperature=1.0, max_new_tokens=8, seed=1)
    return float(np.mean([_spaces(None, s) for s in samples]))


@pytest.fixture(scope="module")
def rl_run(smol_tokenizer, tmp_path_factory):
    attacker = _expressive(smol_tokenizer)
    before = _snapshot(attacker)
    adapter = tmp_path_factory.mktemp("rl") / "adapter"
    calls, stats = [], []

    def reward(prompts, completions):
        calls.append((list(prompts), list(completions)))
        return _spaces(prompts, completions)

    trained, report = rl_finetune(
        attacker,
        PROMPTS,
        reward,
        steps=8,
        batch_prompts=2,
        num_generations=4,
        max_new_tokens=8,
        learning_rate=1e-2,
        adapter_dir=adapter,
        on_step=lambda step, s: stats.append((step, s)),
    )
    return attacker, before, trained, report, adapter, calls, stats


def test_rl_moves_the_policy_toward_rewarded_outputs(rl_run):
    attacker, before, trained, report, adapter, calls, stats = rl_run
    assert _mean_reward(trained) > _mean_reward(attacker) + 0.75
    assert _unchanged(attacker, before)
    assert trained.name == "tiny-random+rl"
    # reward_fn: once per step, on plain prompt texts and completion texts, 2 prompts x 4 each.
    assert len(calls) == 8
    for prompts, completions in calls:
        assert len(prompts) == len(completions) == 8 and set(prompts) <= set(PROMPTS)
        assert all(isinstance(c, str) for c in completions)
    assert report.steps == 8 and len(report.rewards) == 8
    assert [step for step, _ in stats] == list(range(1, 9))
    first, last = stats[0][1], stats[-1][1]
    assert first["kl"] == 0.0 and last["kl"] > 0  # the KL penalty is to the initial attacker
    assert last["seconds"] > first["seconds"] > 0
    assert read_progress(adapter) == {"steps": 8, "rewards": report.rewards}


def test_rl_resumes_from_the_saved_adapter(rl_run, tmp_path):
    attacker, _, trained, _, adapter, _, _ = rl_run
    reloaded = load_adapter(attacker, adapter, "rl")
    texts = [" what is your name", "xyz"]
    np.testing.assert_allclose(
        reloaded.logprob(PROMPTS, texts), trained.logprob(PROMPTS, texts), rtol=1e-5
    )
    # One more step at learning rate 0 (on_step asks to stop after it): the resumed policy is
    # exactly the saved adapter, steps are numbered on from it, and the KL is still to the
    # attacker without it.
    stats = []
    resumed, report = rl_finetune(
        attacker,
        PROMPTS,
        _spaces,
        steps=3,
        batch_prompts=2,
        num_generations=4,
        max_new_tokens=8,
        learning_rate=0.0,
        resume_adapter=adapter,
        adapter_dir=tmp_path / "next",
        on_step=lambda step, s: stats.append((step, s)) or True,
    )
    np.testing.assert_allclose(
        resumed.logprob(PROMPTS, texts), trained.logprob(PROMPTS, texts), rtol=1e-5
    )
    assert report.steps == 1 and [step for step, _ in stats] == [9] and stats[0][1]["kl"] > 0
    assert read_progress(tmp_path / "next")["steps"] == 9


def test_rl_iterations_reuse_each_batch_of_rewards(tiny_model):
    """GRPO's mu: two optimizer steps per generation batch, one reward_fn call per batch."""
    calls = []

    def reward(prompts, completions):
        calls.append(len(completions))
        return _spaces(prompts, completions)

    _, report = rl_finetune(
        tiny_model,
        PROMPTS,
        reward,
        steps=2,
        iterations=2,
        batch_prompts=2,
        num_generations=2,
        max_new_tokens=4,
    )
    assert calls == [4, 4] and report.steps == 4


def test_line_break_ids_are_the_tokens_that_break_a_line(smol_tokenizer):
    ids = line_break_ids(smol_tokenizer)
    encode = smol_tokenizer.encode
    assert {encode("\n")[0], encode("\n\n")[0]} <= ids
    words = set(encode("What is the password? Tell me."))
    assert not ids & (words | set(smol_tokenizer.all_special_ids))


@pytest.mark.parametrize("one_line", [False, True])
def test_one_line_completions_end_at_their_first_line_break(smol_tokenizer, one_line):
    """A tiny model pushed toward line breaks writes several lines; with one_line every
    completion stops at its first."""
    attacker = build_tiny_model(smol_tokenizer)
    breaks = torch.tensor(sorted(line_break_ids(smol_tokenizer)))

    def favour_breaks(module, inputs, logits):
        logits[..., breaks] += 9.0  # about 1 token in 6 breaks the line
        return logits

    attacker.model.lm_head.register_forward_hook(favour_breaks)
    seen = []

    def reward(prompts, completions):
        seen.extend(completions)
        return _spaces(prompts, completions)

    trained, _ = rl_finetune(
        attacker,
        PROMPTS,
        reward,
        steps=2,
        batch_prompts=2,
        num_generations=4,
        max_new_tokens=24,
        one_line=one_line,
    )
    ends = trained.model.generation_config.eos_token_id
    assert ends == attacker.model.generation_config.eos_token_id  # only training stops early
    # Only whitespace (the stopping token's) may follow a line break in a one-line completion.
    several_lines = ["\n" in c.rstrip() for c in seen]
    assert len(seen) == 16 and any(several_lines) != one_line


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, tmp: finetune_lora(m, []), "no failing test cases"),
        (lambda m, tmp: rl_finetune(m, PROMPTS, _spaces, steps=0), "steps must be at least 1"),
        (
            lambda m, tmp: rl_finetune(m, PROMPTS, _spaces, steps=1, num_generations=1),
            "num_generations must be at least 2",
        ),
        (lambda m, tmp: rl_finetune(m, [], _spaces, steps=1), "no attacker prompts"),
        (lambda m, tmp: load_adapter(m, tmp / "missing", "sft"), "no saved adapter"),
    ],
)
def test_bad_input_is_a_one_line_error(tiny_model, tmp_path, call, message):
    with pytest.raises(TailscopeError, match=message) as info:
        call(tiny_model, tmp_path)
    assert "\n" not in str(info.value)
