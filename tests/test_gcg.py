"""GCG, AutoPrompt and universal mode over the shared core, on the tiny random Llama."""

from __future__ import annotations

import json
import math

import torch

from tailscope.search.methods.autoprompt import AutoPrompt, AutoPromptConfig
from tailscope.search.methods.gcg import Gcg, GcgConfig
from tailscope.search.objective import Objective
from tailscope.search.state import initial_state
from tailscope.search.universal import UniversalObjective
from tests.test_search_core import direct_objective, make_problem


def test_gcg_candidates_differ_in_exactly_n_replace_positions(tiny_model):
    problem = make_problem(tiny_model, fixed_output=tiny_model.encode(" ok"), prompt_length=8)
    objective = Objective(tiny_model, problem)
    rng = torch.Generator().manual_seed(0)
    state = initial_state(objective, rng)
    for n_replace in (1, 2, 3):
        gcg = Gcg(objective, GcgConfig(search_width=64, topk=16, n_replace=n_replace))
        proposals = gcg.proposals(state, state.prompt)
        assert proposals.shape == (8, 16)
        assert not (proposals == state.prompt[:, None]).any()  # a swap always changes the token
        candidates = gcg.sample_candidates(state.prompt, proposals, rng)
        assert candidates.shape == (64, 8)
        assert ((candidates != state.prompt).sum(1) == n_replace).all()
        # Every replaced token comes from that position's top-k proposals.
        rows, cols = (candidates != state.prompt).nonzero(as_tuple=True)
        assert all(
            int(candidates[r, c]) in proposals[c].tolist() for r, c in zip(rows, cols, strict=True)
        )


def test_gcg_never_scores_a_candidate_that_fails_the_round_trip(tiny_model):
    enc = tiny_model.encode
    canonical = enc(" hello world") + enc("!")
    split = enc(" hel") + enc("lo") + enc(" world")
    problem = make_problem(tiny_model, fixed_output=enc(" ok"), prompt_length=3)
    objective = Objective(tiny_model, problem)
    gcg = Gcg(objective, GcgConfig(search_width=2))
    gcg.sample_candidates = lambda tokens, proposals, rng: torch.tensor([split, canonical])
    scored = []
    original = objective.evaluate
    objective.evaluate = lambda p, o: scored.append(p.clone()) or original(p, o)
    rng = torch.Generator().manual_seed(0)
    new, info = gcg.step(initial_state(objective, rng), 0, rng)
    candidate_rows = scored[-1].tolist()
    assert candidate_rows == [canonical] and info.n_candidates == 1
    assert new.prompt.tolist() == canonical


def test_gcg_step_scores_match_the_uncached_objective(tiny_model):
    for loss in ("logprob", "mellowmax"):
        problem = make_problem(tiny_model, fixed_output=tiny_model.encode(" yes sir"))
        problem.output_loss = loss
        objective = Objective(tiny_model, problem)
        rng = torch.Generator().manual_seed(1)
        state = initial_state(objective, rng)
        new, _ = Gcg(objective, GcgConfig(search_width=16, topk=8)).step(state, 0, rng)
        if loss == "logprob":
            expected = direct_objective(
                tiny_model, problem, new.prompt.tolist(), new.output.tolist()
            )
        else:
            expected = _direct_mellowmax(
                tiny_model, problem, new.prompt.tolist(), new.output.tolist()
            )
        assert math.isclose(new.objective, expected, rel_tol=1e-4, abs_tol=1e-3)


def _direct_mellowmax(model, problem, prompt, output) -> float:
    ids = list(problem.layout.before) + prompt + list(problem.layout.after) + output
    with torch.no_grad():
        logits = model.model(torch.tensor([ids])).logits[0].float()
    start = len(ids) - len(output)
    target = torch.stack([logits[start + j - 1, t] for j, t in enumerate(output)])
    a = problem.mellowmax_alpha
    mellow = (torch.logsumexp(-a * target, 0) - math.log(len(output))) / a
    unigram = problem.prompt_unigram[prompt].sum() + problem.output_unigram[output].sum()
    return float(-problem.lam_logprob * mellow + unigram)


def test_gcg_buffer_keeps_the_best_prompt(tiny_model):
    problem = make_problem(tiny_model, fixed_output=tiny_model.encode(" yes"))
    objective = Objective(tiny_model, problem)
    rng = torch.Generator().manual_seed(2)
    state = initial_state(objective, rng)
    gcg = Gcg(objective, GcgConfig(search_width=8, topk=4, buffer_size=2))
    best = state.objective
    for step in range(5):
        state, _ = gcg.step(state, step, rng)
        assert state.objective >= best - 1e-5  # with a buffer the search never moves back
        best = state.objective
        assert len(gcg.buffer) <= 2


def test_autoprompt_changes_one_position_per_step(tiny_model):
    problem = make_problem(tiny_model, fixed_output=tiny_model.encode(" yes"), prompt_length=5)
    objective = Objective(tiny_model, problem)
    rng = torch.Generator().manual_seed(3)
    state = initial_state(objective, rng)
    autoprompt = AutoPrompt(objective, AutoPromptConfig(n_candidates=8))
    for step in range(7):
        new, info = autoprompt.step(state, step, rng)
        changed = (new.prompt != state.prompt).nonzero()[:, 0].tolist()
        assert changed in ([], [step % 5]) and info.position == f"prompt[{step % 5}]"
        assert new.objective >= state.objective - 1e-5
        state = new


def test_evaluate_halves_the_batch_when_memory_runs_out(tiny_model):
    problem = make_problem(tiny_model, fixed_output=tiny_model.encode(" ok"))
    objective = Objective(tiny_model, problem, batch_size=32)
    prompts = problem.prompt_allowed.nonzero()[:20, 0].reshape(5, 4).repeat(2, 1)
    outputs = torch.tensor([problem.fixed_output] * 10)
    expected = objective.evaluate(prompts, outputs).total
    real_logits = tiny_model.logits

    def small_memory(embeds, positions, prefix=None):
        if embeds.shape[0] > 4:
            raise torch.OutOfMemoryError("simulated")
        return real_logits(embeds, positions, prefix)

    tiny_model.logits = small_memory
    got = objective.evaluate(prompts, outputs).total
    assert objective.batch_size == 4
    torch.testing.assert_close(got, expected)


def test_universal_objective_sums_the_requests(tiny_model):
    outputs = [tiny_model.encode(" yes"), tiny_model.encode(" no way")]
    parts = [Objective(tiny_model, make_problem(tiny_model, fixed_output=o)) for o in outputs]
    universal = UniversalObjective(parts)
    assert universal.problem.fixed_output == outputs[0] + outputs[1]
    rng = torch.Generator().manual_seed(4)
    state = initial_state(universal, rng)
    each = [
        p.evaluate(state.prompt[None], torch.tensor([o])).total
        for p, o in zip(parts, outputs, strict=True)
    ]
    assert math.isclose(state.objective, float(sum(each)), rel_tol=1e-5)
    per_request = universal.part_states(state)
    assert [s.output.tolist() for s in per_request] == outputs
    new, _ = Gcg(universal, GcgConfig(search_width=16, topk=8)).step(state, 0, rng)
    assert new.output.tolist() == state.output.tolist()  # outputs are fixed targets


def test_gcg_state_round_trips_its_buffer_through_json(tiny_model):
    problem = make_problem(tiny_model, fixed_output=tiny_model.encode(" ok"))
    objective = Objective(tiny_model, problem)
    config = GcgConfig(search_width=8, topk=4, buffer_size=3)
    gcg, rng = Gcg(objective, config), torch.Generator().manual_seed(2)
    state = initial_state(objective, rng)
    for step in range(4):
        state, _ = gcg.step(state, step, rng)
    saved = json.loads(json.dumps(gcg.state()))
    again = Gcg(objective, config)
    again.restore(saved)
    assert [(s.prompt.tolist(), s.objective) for s in again.buffer] == [
        (s.prompt.tolist(), s.objective) for s in gcg.buffer
    ]
    assert len(again.buffer) == 3 and again.buffer[0].objective == max(
        s.objective for s in gcg.buffer
    )
