"""The shared search core on a tiny random Llama: filters, exact scoring, ARCA's step."""

from __future__ import annotations

import torch

from tailscope.search.methods.arca import Arca, ArcaConfig
from tailscope.search.objective import Objective
from tailscope.search.problem import SearchProblem, unigram_log_terms
from tailscope.search.state import SearchState, evaluate_state, initial_state
from tailscope.search.tokens import allowed_tokens, survives_round_trip


def make_problem(model, fixed_output=None, prompt_length=4, output_length=2, lam_perp=0.0, seed=0):
    vocab = model.vocab_size
    allowed = allowed_tokens(model.tokenizer, vocab, False, [])
    gen = torch.Generator().manual_seed(seed)
    return SearchProblem(
        layout=model.chat_layout(),
        prompt_length=prompt_length,
        output_length=len(fixed_output) if fixed_output else output_length,
        fixed_output=fixed_output,
        prompt_allowed=allowed,
        output_allowed=allowed,
        prompt_unigram=torch.rand(vocab, generator=gen) - 1,
        output_unigram=torch.rand(vocab, generator=gen) - 1,
        lam_perp=lam_perp,
    )


def direct_objective(model, problem, prompt, output) -> float:
    """The objective computed from scratch with one plain forward pass, no cache."""
    ids = list(problem.layout.before) + prompt + list(problem.layout.after) + output
    with torch.no_grad():
        logprobs = torch.log_softmax(model.model(torch.tensor([ids])).logits[0].float(), -1)
    out_start = len(ids) - len(output)
    total = problem.lam_logprob * sum(
        float(logprobs[out_start + j - 1, t]) for j, t in enumerate(output)
    )
    if problem.lam_perp:
        p_start = len(problem.layout.before)
        total += problem.lam_perp * sum(
            float(logprobs[p_start + i - 1, t]) for i, t in enumerate(prompt)
        )
    total += float(problem.prompt_unigram[prompt].sum() + problem.output_unigram[output].sum())
    return total


def test_allowed_tokens_exclude_special_non_ascii_and_copies(smol_tokenizer):
    vocab = len(smol_tokenizer)
    mask = allowed_tokens(smol_tokenizer, vocab, False, ["I hate you"])
    for special in smol_tokenizer.all_special_ids:
        assert not mask[special]
    hate = smol_tokenizer(" hate", add_special_tokens=False)["input_ids"]
    assert len(hate) == 1 and not mask[hate[0]]
    love = smol_tokenizer(" love", add_special_tokens=False)["input_ids"]
    assert mask[love[0]]
    non_ascii = smol_tokenizer("é", add_special_tokens=False)["input_ids"]
    assert not mask[non_ascii].any()
    assert allowed_tokens(smol_tokenizer, vocab, True, [])[non_ascii].all()


def test_round_trip_filter_drops_a_non_canonical_tokenization(smol_tokenizer):
    enc = lambda s: smol_tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    canonical = enc(" hello world")
    split = enc(" hel") + enc("lo") + enc(" world")  # decodes to the same text
    assert smol_tokenizer.decode(split) == " hello world" and split != canonical
    rows = torch.tensor([canonical + [enc("!")[0]], split])
    keep = survives_round_trip(smol_tokenizer, rows)
    assert keep.tolist() == [True, False]


def test_exact_rescoring_equals_a_direct_computation(tiny_model):
    for lam_perp, fixed in ((0.0, None), (0.5, tiny_model.encode(" I hate you"))):
        problem = make_problem(tiny_model, fixed_output=fixed, lam_perp=lam_perp)
        objective = Objective(tiny_model, problem, batch_size=3)
        gen = torch.Generator().manual_seed(1)
        allowed = problem.prompt_allowed.nonzero()[:, 0]
        prompts = allowed[torch.randint(len(allowed), (7, problem.prompt_length), generator=gen)]
        outputs = (
            torch.tensor([fixed] * 7)
            if fixed
            else allowed[torch.randint(len(allowed), (7, problem.output_length), generator=gen)]
        )
        ev = objective.evaluate(prompts, outputs)
        direct = [
            direct_objective(tiny_model, problem, p.tolist(), o.tolist())
            for p, o in zip(prompts, outputs, strict=True)
        ]
        torch.testing.assert_close(ev.total, torch.tensor(direct), rtol=1e-4, atol=1e-3)


def test_greedy_match_flags_the_models_own_continuation(tiny_model):
    problem = make_problem(tiny_model, output_length=3)
    objective = Objective(tiny_model, problem)
    prompt = torch.tensor(tiny_model.encode(" tell me a joke please")[:4])
    first = objective.evaluate(prompt[None], torch.zeros(1, 3, dtype=torch.long))
    # Feed back the greedy tokens one position at a time until the output is self-consistent.
    output = first.greedy_next[0].clone()
    for _ in range(3):
        output = objective.evaluate(prompt[None], output[None]).greedy_next[0]
    assert bool(objective.evaluate(prompt[None], output[None]).greedy_match[0])
    other = output.clone()
    other[-1] = (other[-1] + 1) % tiny_model.vocab_size
    assert not bool(objective.evaluate(prompt[None], other[None]).greedy_match[0])


def test_arca_averages_gradients_over_random_tokens_at_the_coordinate(tiny_model):
    problem = make_problem(tiny_model)
    objective = Objective(tiny_model, problem)
    arca = Arca(objective, ArcaConfig(n_grad_avg=6, n_candidates=8))
    rng = torch.Generator().manual_seed(0)
    state = initial_state(objective, rng)
    seen = {}
    original = objective.gradients

    def spy(prompts, outputs, **positions):
        seen.update(prompts=prompts.clone(), outputs=outputs.clone(), **positions)
        return original(prompts, outputs, **positions)

    objective.gradients = spy
    # Joint search: the cycle starts with the output positions, then the prompt.
    assert arca.coordinates[0] == ("output", 0)
    arca.step(state, 2, rng)  # coordinate 2 = prompt position 0
    assert seen["prompt_positions"] == [0] and "output_positions" not in seen
    column = seen["prompts"][:, 0]
    assert len(set(column.tolist())) > 1  # random tokens, not copies of the current one
    assert (column != state.prompt[0]).any()
    assert (seen["prompts"][:, 1:] == state.prompt[1:]).all()  # other positions untouched
    assert bool(problem.prompt_allowed[column].all())


def test_arca_steps_never_lower_the_objective_and_touch_one_position(tiny_model):
    problem = make_problem(tiny_model, fixed_output=tiny_model.encode(" yes"))
    objective = Objective(tiny_model, problem)
    arca = Arca(objective, ArcaConfig(n_grad_avg=4, n_candidates=16))
    rng = torch.Generator().manual_seed(0)
    state = initial_state(objective, rng)
    for step in range(6):
        new, info = arca.step(state, step, rng)
        assert new.objective >= state.objective - 1e-5
        assert int((new.prompt != state.prompt).sum()) <= 1
        assert info.position == f"prompt[{step % problem.prompt_length}]"
        # The reported objective is the exact one for the chosen tokens.
        again = evaluate_state(objective, new.prompt, new.output)
        assert abs(again.objective - new.objective) < 1e-3
        state = new
    assert isinstance(state, SearchState)


def test_unigram_terms_are_log_scores_with_neutral_nan():
    import numpy as np

    scores = np.array([0.9, 0.1, np.nan])
    np.testing.assert_allclose(
        unigram_log_terms(scores, "min", 2.0), [2 * np.log(0.9), 2 * np.log(0.1), 0]
    )
    np.testing.assert_allclose(unigram_log_terms(scores, "max", 1.0), [np.log(0.1), np.log(0.9), 0])
