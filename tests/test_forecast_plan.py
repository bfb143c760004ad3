"""`plan`: a query budget goes where the widest deployment interval is, and bad input is one
clear error."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tailscope.errors import TailscopeError
from tailscope.forecast.data import observations
from tailscope.forecast.plan import plan
from tailscope.store import Workspace
from tests.cli import assert_one_line_error, tailscope
from tests.review_workspace import redteam_run


def tail(m: int, seed: int):
    psi = -8 + 0.3 * np.random.default_rng(seed).exponential(size=m)  # Q_p(1e6) ~ 1e-21
    return observations(logp=-np.exp(-psi))


def test_the_budget_goes_to_the_widest_interval_and_narrows_it():
    sets = [("small", tail(100, 2)), ("large", tail(2000, 3)), ("mid", tail(400, 4))]
    rows = plan(sets, 1000, 1_000_000)
    assert sum(r.add for r in rows) == 1000
    widest = max(rows, key=lambda r: r.width_now)
    assert widest.add > 0 and widest.width_after < widest.width_now
    assert all(r.low_after < r.log10_q_p < r.high_after for r in rows)
    # minimax: no all-to-one split leaves a narrower widest interval
    planned = max(r.width_after for r in rows)
    for i, one in enumerate(sets):
        (alone,) = plan([one], 1000, 1_000_000)  # all 1,000 to this one
        rest = [r.width_now for j, r in enumerate(rows) if j != i]
        assert planned <= max([alone.width_after, *rest]) + 1e-9


def test_zero_budget_and_tied_pools_are_errors():
    with pytest.raises(TailscopeError, match="budget 0"):
        plan([("a", tail(100, 1))], 0, 10_000)
    tied = observations(np.full(50, 0.25))
    with pytest.raises(TailscopeError, match="tied: no forecast to plan from"):
        plan([("tied", tied)], 100, 10_000)


def test_plan_cli_refuses_runs_of_different_models(tmp_path, tiny_model_dir):
    ws = tmp_path / "ws"
    pool = tmp_path / "q.txt"
    pool.write_text("\n".join(f"What is {i} times {i + 2}?" for i in range(30)) + "\n")
    assert tailscope("queries", "import", str(pool), "--pool", "qs", workspace=ws).returncode == 0
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model_dir, other)
    run_ids = []
    for model in (tiny_model_dir, other):
        result = tailscope(
            "elicit", "-b", "say", "-p", "target=I hate you", "--pool", "qs", "--method",
            "exact", "-m", str(model), "--json", workspace=ws,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        run_ids.append(json.loads(result.stdout)["run"])
    result = tailscope("plan", *run_ids, "--budget", "100", workspace=ws)
    assert_one_line_error(result, "different models")
    result = tailscope("plan", run_ids[0], "--budget", "0", workspace=ws)
    assert_one_line_error(result, "budget 0")
    result = tailscope(
        "plan", run_ids[0], "--budget", "100", "--deploy", "1e5", "--json", workspace=ws
    )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["plan"]
    assert row["m"] == 30 and row["add"] == 100 and row["width_after"] < row["width_now"]


def test_plan_takes_red_team_runs_their_cases_as_the_queries(tmp_path):
    path = tmp_path / "ws"
    rng = np.random.default_rng(5)
    with Workspace(path) as ws:  # detector scores with an exponential tail in psi
        scores = [list(np.exp(-np.exp(1.5 - 0.3 * rng.exponential(size=m)))) for m in (60, 400)]
        run_ids = [redteam_run(ws, [f"reply {i}" for i in range(len(s))], s) for s in scores]
    result = tailscope("plan", *run_ids, "--budget", "500", "--json", workspace=path)
    assert result.returncode == 0, result.stderr
    rows = {row["m"]: row for row in json.loads(result.stdout)["plan"]}
    assert sorted(rows) == [60, 400] and sum(r["add"] for r in rows.values()) == 500
    assert rows[60]["add"] > rows[400]["add"]  # the smaller run has the wider interval
    assert rows[60]["width_after"] < rows[60]["width_now"]
