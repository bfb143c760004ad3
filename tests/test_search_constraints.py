"""The shared candidate filters: forbidden text in tokens and across token boundaries, the
behavior's detector constraints on candidates, and their drop counts in the step trace."""

from __future__ import annotations

import pytest
import torch

from tailscope.behaviors.spec import Behavior
from tailscope.search.filters import PromptRules, filter_candidates
from tailscope.search.methods.arca import Arca, ArcaConfig
from tailscope.search.methods.gcg import Gcg, GcgConfig
from tailscope.search.objective import Objective
from tailscope.search.problem import build_problem
from tailscope.search.runner import Budget, Progress, run_restart
from tailscope.search.state import evaluate_state, initial_state
from tailscope.search.tokens import allowed_tokens
from tailscope.search.verify import verify
from tests.test_search_core import make_problem

NO_E = {"detector": {"kind": "text", "mode": "contains", "pattern": "e"}, "max": 0.5}


def behavior(**fields) -> Behavior:
    return Behavior.model_validate({"name": "t", "output": {"target": "ok"}, **fields})


def test_a_token_that_contains_forbidden_text_is_masked(smol_tokenizer):
    enc = lambda s: smol_tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    vocab = len(smol_tokenizer)
    mask = allowed_tokens(smol_tokenizer, vocab, False, ["Pig", "ass"])
    (pigment,), (klass,), (love,) = enc(" pigment"), enc(" class"), enc(" love")
    assert not mask[pigment] and not mask[klass]  # contain "pig" (any case) and "ass"
    assert mask[love]
    assert allowed_tokens(smol_tokenizer, vocab, False, [])[[pigment, klass]].all()


def test_forbidden_text_follows_the_verifiers_case_rule():
    spec = behavior(forbid_in_prompt=["Darn"])
    rules = PromptRules.of(spec.forbid_in_prompt)
    texts = ["well DARNING socks", "a darn thing", "d a r n", "plain"]
    found = [rules.contains_forbidden(t) for t in texts]
    assert found == [True, True, False, False]
    assert found == (~spec.prompt_ok(texts)).tolist()


def test_a_candidate_assembling_forbidden_text_across_tokens_is_dropped(smol_tokenizer):
    enc = lambda s: smol_tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    assembled = enc(" d") + enc("arning")  # " darning": neither token contains "darn"
    clean = enc(" d") + enc(" cat")
    mask = allowed_tokens(smol_tokenizer, len(smol_tokenizer), False, ["darn"])
    assert mask[assembled].all()  # the token mask cannot catch it
    rules = PromptRules.of(["darn"])
    filtered = filter_candidates(smol_tokenizer, rules, torch.tensor([assembled, clean]))
    assert filtered.keep.tolist() == [False, True]
    assert filtered.dropped == {"roundtrip": 0, "forbidden_text": 1}


def test_gcg_drops_forbidden_candidates_and_the_trace_counts_them(tiny_model):
    enc = tiny_model.encode
    assembled, clean = enc(" d") + enc("arning"), enc(" d") + enc(" cat")
    split = enc(" hel") + enc("lo")  # decodes to " hello", re-encodes differently
    problem = make_problem(tiny_model, fixed_output=enc(" ok"), prompt_length=2)
    problem.prompt_rules = PromptRules.of(["darn"])
    objective = Objective(tiny_model, problem)
    gcg = Gcg(objective, GcgConfig(search_width=3))
    gcg.sample_candidates = lambda tokens, proposals, rng: torch.tensor([assembled, split, clean])
    rng = torch.Generator().manual_seed(0)
    start = evaluate_state(objective, torch.tensor(clean), torch.tensor(enc(" ok")))
    rows = []
    run_restart(
        gcg,
        Progress(start),
        Budget(max_steps=2),
        rng,
        verify=lambda s: verify(tiny_model, behavior(), problem, s),
        on_step=lambda row, progress: rows.append(row),
    )
    assert [r["dropped"] for r in rows] == [{"roundtrip": 1, "forbidden_text": 1}] * 2
    assert all(r["n_candidates"] == 1 for r in rows)


def constrained_run(model, method: str, on: bool, steps: int = 8):
    spec = behavior(constraints=[NO_E])
    problem = build_problem(model, spec, prompt_length=4, candidate_constraints=on)
    objective = Objective(model, problem)
    optimizer = (
        Gcg(objective, GcgConfig(search_width=32, topk=32))
        if method == "gcg"
        else Arca(objective, ArcaConfig(n_grad_avg=2, n_candidates=32))
    )
    rng = torch.Generator().manual_seed(0)
    start = initial_state(objective, rng, model.encode(" fun at a park"))
    rows, states = [], []

    def on_step(row, progress):
        rows.append(row)
        states.append(model.decode(progress.state.prompt.tolist()))

    outcome = run_restart(
        optimizer,
        Progress(start),
        Budget(max_steps=steps),
        rng,
        verify=lambda s: verify(model, spec, problem, s),
        on_step=on_step,
    )
    return outcome, rows, states


@pytest.mark.parametrize("method", ["gcg", "arca"])
def test_detector_constraints_on_candidates_keep_every_prompt_inside_them(tiny_model, method):
    outcome, rows, states = constrained_run(tiny_model, method, on=True)
    assert all("e" not in s for s in states)
    assert outcome.verification.prompt_ok
    assert sum(r["dropped"]["constraints"] for r in rows) > 0
    # Without the filter the same search does walk into prompts that fail the constraint.
    _, rows_off, states_off = constrained_run(tiny_model, method, on=False)
    assert any("e" in s for s in states_off)
    assert all("constraints" not in r["dropped"] for r in rows_off)


def test_constraints_are_not_enforced_while_the_current_prompt_fails_them(smol_tokenizer):
    enc = lambda s: smol_tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    rules = PromptRules(constraints=lambda texts: behavior(constraints=[NO_E]).prompt_ok(texts))
    rows = torch.tensor([enc(" the cat"), enc(" a cat")])
    outside = filter_candidates(smol_tokenizer, rules, rows, current=torch.tensor(enc(" he")))
    inside = filter_candidates(smol_tokenizer, rules, rows, current=torch.tensor(enc(" a")))
    assert outside.keep.tolist() == [True, True] and outside.dropped["constraints"] == 0
    assert inside.keep.tolist() == [False, True] and inside.dropped["constraints"] == 1
