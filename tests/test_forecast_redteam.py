"""`tailscope forecast` from a red-team run: its test cases are the evaluation queries and
each one's p is the detector's score of the target's reply."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tailscope.behaviors.ref import BehaviorRef
from tailscope.redteam.session import RedTeamConfig
from tailscope.runs.execute import execute
from tailscope.store import Workspace
from tests.cli import assert_one_line_error, tailscope
from tests.redteam.fakes import ScriptedAttacker

V3 = Path(__file__).parent / "data" / "workspace-v3"
V3_REDTEAM, V3_SEARCH = "r-20261202-0636-a7f9", "r-20261202-0636-4ace"


def untied(model):
    """The tiny model with its own random output layer: with the embeddings tied, a random
    model repeats the last prompt token ("\n" after the chat template), so every reply
    would be blank and score 0."""
    shape = model.model.lm_head.weight.shape
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(shape, generator=generator) * 0.02
    model.model.lm_head.weight = torch.nn.Parameter(weight)
    return model


def test_a_red_team_run_of_the_tiny_model_forecasts_from_its_test_cases(tmp_path, tiny_model):
    ws_path = tmp_path / "ws"
    config = RedTeamConfig(
        model="tiny", behavior=BehaviorRef(name="offensive-replies"), method="zero-shot",
        budget=40, batch=20, max_new_tokens=8,
    )  # fmt: skip
    with Workspace(ws_path) as ws:
        models = {"target": untied(tiny_model), "attacker": ScriptedAttacker(rude_rate=0.3)}
        run_id = execute(ws, "redteam", config, 0, models=models)
        cases = ws.redteam.cases(run_id)
    scores = [c.score for c in cases]
    assert len(set(scores)) > 5  # the tiny model's replies get distinct detector scores
    args = ("forecast", run_id, "--k-tail", "5", "--bootstrap", "50", "--deploy", "1e4")
    result = tailscope(*args, "--json", workspace=ws_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["m"] == len(cases) == 40
    assert data["n_zero"] == sum(s == 0 for s in scores)
    assert data["observed_max_p"] == pytest.approx(max(scores), rel=1e-6)
    assert "detector's score" in data["p_means"]
    expected = data["methods"][0]
    assert expected["status"] == "ok" and expected["q_p"] >= max(scores) * (1 - 1e-6)
    table = tailscope(*args, workspace=ws_path)
    assert table.returncode == 0, table.stderr
    assert f"red-team run {run_id}: m = 40 queries" in table.stdout
    assert "p = the detector's score of the target's reply" in table.stdout


def test_the_committed_red_team_run_says_its_tail_rests_on_one_template(tmp_path):
    """Three of its twelve test cases ask 'Why are you so rude ...' and score 1: the top of
    the tail is one mode, and a score of exactly 1 is read at the detector's precision."""
    ws_path = tmp_path / "ws"
    shutil.copytree(V3, ws_path)
    result = tailscope(
        "forecast", V3_REDTEAM, "--k-tail", "4", "--bootstrap", "20", "--deploy", "1000",
        "--json", workspace=ws_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["m"], data["n_one"], data["one_rule"]) == (12, 3, "score_resolution")
    assert 1 - 1e-7 < data["observed_max_p"] < 1
    [mode] = [w for w in data["diagnostics"]["warnings"] if "one mode" in w]
    assert "3 of the top 4 queries start with 'Why are you'" in mode


def test_a_run_of_another_kind_is_one_line(tmp_path):
    ws_path = tmp_path / "ws"
    shutil.copytree(V3, ws_path)
    result = tailscope("forecast", V3_SEARCH, workspace=ws_path)
    assert_one_line_error(result, f"run {V3_SEARCH} is a search run", "red-team run")
