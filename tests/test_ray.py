"""`--executor ray` on a real local Ray (`ray.init(num_cpus=2)`, once for the module): the
target's calls run on actors that each load the model once, the driver commits. Results
equal the in-process run's for the same seed; a killed actor is restarted and the run
completes; a killed driver resumes with `--resume` and loses no committed chunk; without
Ray installed, the option says how to install it."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tailscope.behaviors.ref import BehaviorRef
from tailscope.elicit.session import ElicitConfig
from tailscope.models.ray import RayModel
from tailscope.models.registry import load_model
from tailscope.redteam.session import RedTeamConfig
from tailscope.runs.execute import execute
from tailscope.runs.executor import Executor
from tailscope.runs.progress import Progress, Task
from tailscope.store import Workspace
from tests.cli import assert_one_line_error, kill_when, start, tailscope
from tests.conftest import build_tiny_model

ray = pytest.importorskip("ray")

HAS_E = """\
name: has-e
description: The reply holds the letter e (about half of a tiny random model's samples).
output: {detector: {kind: text, mode: contains, pattern: e}, threshold: 0.5}
redteam: {require_question: false}
"""
QUERIES = [f"question number {i} about {w}?" for i, w in enumerate("abcdefghijkl")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, smol_tokenizer):
    """A local Ray with 2 CPUs, the tiny model as a directory, the has-e behavior."""
    root = tmp_path_factory.mktemp("ray")
    model = build_tiny_model(smol_tokenizer)
    model.model.save_pretrained(root / "tiny")
    smol_tokenizer.save_pretrained(root / "tiny")
    (root / "has-e.yaml").write_text(HAS_E)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield root
    ray.shutdown()


def _workspace(path) -> Workspace:
    ws = Workspace(path)
    ws.pools.create("qs")
    ws.pools.add("qs", QUERIES, source="file")
    return ws


def _elicit(root, method: str, behavior: str) -> ElicitConfig:
    return ElicitConfig(
        model=f"hf:{root / 'tiny'}",
        behavior=BehaviorRef.parse(behavior),
        pool="qs",
        method=method,
        k=8,
        max_new_tokens=4,
        chunk=4,
    )


def _rows(ws, run_id) -> list[dict]:
    return [r.to_json() for r in ws.elicitations.list(run_id)]


def test_runs_on_ray_equal_the_in_process_runs(cluster, tmp_path):
    local, remote = _workspace(tmp_path / "local"), _workspace(tmp_path / "ray")
    in_process = {"target": load_model(f"hf:{cluster / 'tiny'}")}
    on_ray = Executor("ray", actors=2)
    for config in (
        _elicit(cluster, "sample", str(cluster / "has-e.yaml")),
        _elicit(cluster, "exact", "say:target=Hello"),
    ):
        a = execute(local, "elicit", config, 3, models=in_process)
        b = execute(remote, "elicit", config, 3, executor=on_ray)
        assert remote.runs.get(b).model["executor"] == {"ray": {"actors": 2}}
        rows_a, rows_b = _rows(local, a), _rows(remote, b)
        if config.method == "exact":  # floats from other batches: equal to rounding
            lp_a, lp_b = ([r.pop("logp") for r in rows] for rows in (rows_a, rows_b))
            np.testing.assert_allclose(lp_a, lp_b, rtol=1e-5)
            p_a, p_b = ([r.pop("p") for r in rows] for rows in (rows_a, rows_b))
            np.testing.assert_allclose(p_a, p_b, rtol=1e-5)
        else:
            assert 0 < sum(r["hits"] for r in rows_a) < sum(r["k"] for r in rows_a)
        assert rows_a == rows_b
    # Red teaming: the target's replies on the actors, the attacker in this process.
    redteam = RedTeamConfig(
        model=f"hf:{cluster / 'tiny'}",
        behavior=BehaviorRef(name=str(cluster / "has-e.yaml")),
        budget=8,
        batch=4,
        max_new_tokens=4,
    ).resolved()
    a = execute(
        local, "redteam", redteam, 1, models={**in_process, "attacker": in_process["target"]}
    )
    b = execute(remote, "redteam", redteam, 1, executor=on_ray)
    assert [c.to_json() for c in local.redteam.cases(a)] == [
        c.to_json() for c in remote.redteam.cases(b)
    ]


class KillAnActorAfterTheFirstChunk(Progress):
    def __init__(self, model: RayModel):
        self.model = model

    def task(self, description, total=None, completed=0) -> Task:
        model = self.model

        class _Kill(Task):
            killed = False

            def update(self, *, completed=None, total=None, description=None) -> None:
                if not self.killed:
                    ray.kill(model.actors[0], no_restart=False)  # Ray restarts it
                    self.killed = True

        return _Kill()


def test_a_killed_actor_is_restarted_and_the_run_completes(cluster, tmp_path):
    config = _elicit(cluster, "sample", str(cluster / "has-e.yaml"))
    local = _workspace(tmp_path / "local")
    whole = execute(local, "elicit", config, 5, models={"target": load_model(config.model)})
    ws = _workspace(tmp_path / "ray")
    model = RayModel(config.model, actors=2)
    try:
        run_id = execute(
            ws,
            "elicit",
            config,
            5,
            models={"target": model},
            progress=KillAnActorAfterTheFirstChunk(model),
        )
    finally:
        model.close()
    assert ws.runs.get(run_id).status == "completed"
    assert _rows(ws, run_id) == _rows(local, whole)


def test_a_killed_driver_resumes_on_ray_without_losing_committed_chunks(cluster, tmp_path):
    workspace = tmp_path / "ws"
    pool = tmp_path / "qs.txt"
    pool.write_text("\n".join(QUERIES) + "\n")
    assert (
        tailscope("queries", "import", str(pool), "--pool", "qs", workspace=workspace).returncode
        == 0
    )
    args = [
        "elicit",
        "-m",
        f"hf:{cluster / 'tiny'}",
        "-b",
        str(cluster / "has-e.yaml"),
        "--pool",
        "qs",
        "--k",
        "8",
        "--max-new-tokens",
        "4",
        "--chunk",
        "2",
        "--seed",
        "2",
    ]
    os.environ["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    try:
        proc = start("--executor", "ray", *args, workspace=workspace)
        ws = Workspace(workspace)
        kill_when(
            proc,
            lambda: (
                len(ws.runs.list()) == 1 and len(ws.elicitations.list(ws.runs.list()[0].id)) >= 2
            ),
        )
        run_id = ws.runs.list()[0].id
        committed = _rows(ws, run_id)
        assert 2 <= len(committed) < len(QUERIES)
        resumed = tailscope("--executor", "ray", "elicit", "--resume", run_id, workspace=workspace)
        assert resumed.returncode == 0, resumed.stderr
    finally:
        del os.environ["RAY_ADDRESS"]
    rows = _rows(ws, run_id)
    assert [r["query_idx"] for r in rows] == list(range(len(QUERIES)))  # none lost or doubled
    assert rows[: len(committed)] == committed  # what was committed stayed as it was
    local = _workspace(tmp_path / "local")
    config = _elicit(cluster, "sample", str(cluster / "has-e.yaml")).model_copy(update={"chunk": 2})
    whole = execute(local, "elicit", config, 2, models={"target": load_model(config.model)})
    assert rows == _rows(local, whole)


def test_executor_ray_without_ray_installed_says_how_to_install_it(tmp_path):
    program = (
        "import sys; sys.modules['ray'] = None; "
        "sys.argv = ['tailscope', '--executor', 'ray', 'elicit', '-b', 'say', '-p', 'target=Hi', "
        "'--pool', 'qs', '--method', 'exact']; "
        "from tailscope.cli.main import main; main()"
    )
    env = {**os.environ, "TAILSCOPE_WORKSPACE": str(tmp_path / "ws")}
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env
    )
    assert_one_line_error(result, "--executor ray needs Ray", "pip install 'tailscope[ray]'")
    unknown = tailscope("--executor", "dask", "runs", workspace=tmp_path / "ws")
    assert_one_line_error(unknown, "unknown executor 'dask'")


def test_a_model_the_actors_cannot_load_is_one_line(cluster, tmp_path):
    from tailscope.errors import TailscopeError

    with pytest.raises(TailscopeError, match="is not a transformers model directory"):
        RayModel(f"hf:{tmp_path}", actors=1)
