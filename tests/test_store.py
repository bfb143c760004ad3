"""The workspace keeps every completed unit, exactly once, even when the process is killed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

import tailscope
from tailscope.errors import TailscopeError
from tailscope.store import Finding, Run, Workspace

SRC = str(Path(tailscope.__file__).resolve().parents[1])
MODEL = {"name": "tiny-random", "source": "test"}


def finding(behavior: str = "say", success: bool = True, prompt: str = "hi") -> Finding:
    return Finding.model_validate(
        {
            "behavior": behavior,
            "method": "arca",
            "prompt": prompt,
            "output": "I hate you",
            "target_output": "I hate you",
            "prompt_ids": [1, 2, 3],
            "output_ids": [4, 5],
            "objective": -1.25,
            "success": success,
            "verification": {"status": "success" if success else "no_match", "roundtrip_ok": True},
            "scores": {"output": {"toxicity": 0.9}, "prompt": {"toxicity": 0.1}},
            "steps": 2,
            "elapsed_s": 1.5,
            "restart": 0,
        }
    )


def step_rows(n: int) -> list[dict]:
    return [
        {"step": i, "objective": -3.0 + i, "best_objective": -3.0 + i, "elapsed_s": 0.1 * i}
        for i in range(n)
    ]


@pytest.fixture()
def ws(tmp_path) -> Workspace:
    with Workspace(tmp_path / "ws") as workspace:
        yield workspace


def test_create_get_and_list_runs(ws, tmp_path):
    first = ws.runs.create("search", {"model": "tiny", "settings": {"steps": 3}}, 7, MODEL)
    second = ws.runs.create("audit", {"model": "tiny"}, 8, MODEL)
    assert first != second
    assert first.startswith("r-") and len(first.split("-")) == 4

    run = ws.runs.get(first)
    assert isinstance(run, Run)
    assert (run.kind, run.seed, run.status, run.error) == ("search", 7, "running", None)
    assert run.config == {"model": "tiny", "settings": {"steps": 3}}
    assert run.model == MODEL
    assert run.progress == {}
    assert run.environment["tailscope"] == tailscope.__version__
    assert set(run.environment) >= {"tailscope", "torch", "transformers", "python"}
    assert run.to_json()["id"] == first
    with pytest.raises(ValidationError):
        run.status = "failed"  # frozen

    assert [r.id for r in ws.runs.list()] == [second, first]  # newest first
    assert [r.id for r in ws.runs.list(limit=1)] == [second]
    assert (tmp_path / "ws" / "workspace.db").is_file()

    # a second handle (as another process would) sees the same runs
    with Workspace(tmp_path / "ws") as again:
        assert again.runs.get(second).kind == "audit"


def test_unknown_run_names_the_runs_command(ws):
    with pytest.raises(TailscopeError, match="tailscope runs"):
        ws.runs.get("r-nope")
    with pytest.raises(TailscopeError, match="tailscope runs"):
        ws.runs.set_status("r-nope", "failed")


def test_status_and_progress_updates(ws):
    run_id = ws.runs.create("search", {}, 0, MODEL)
    ws.runs.set_progress(run_id, {"units_done": 3, "units_total": 8})
    ws.runs.set_status(run_id, "failed", error="RuntimeError: boom")
    run = ws.runs.get(run_id)
    assert run.progress == {"units_done": 3, "units_total": 8}
    assert (run.status, run.error) == ("failed", "RuntimeError: boom")
    assert run.updated_at >= run.created_at

    ws.runs.set_status(run_id, "running")  # a resumed run clears the old error
    assert (ws.runs.get(run_id).status, ws.runs.get(run_id).error) == ("running", None)
    with pytest.raises(ValueError):
        ws.runs.set_status(run_id, "exploded")


def test_complete_unit_records_result_findings_and_steps(ws):
    run_id = ws.runs.create("search", {}, 0, MODEL)
    other = ws.runs.create("search", {}, 1, MODEL)
    a = finding(prompt="<b>a</b>")
    assert ws.units.complete(run_id, "u0", {"success": True}, [a], step_rows(3))
    ws.units.complete(run_id, "u1", {"success": False}, [finding(success=False)], step_rows(2))
    ws.units.complete(other, "u0", {"success": True}, [finding()], step_rows(1))

    assert ws.units.completed(run_id) == {"u0": {"success": True}, "u1": {"success": False}}
    found = ws.units.findings(run_id)
    assert [f.unit_key for f in found] == ["u0", "u1"]
    assert found[0] == a.model_copy(update={"id": found[0].id, "unit_key": "u0"})
    assert found[0].id < found[1].id
    assert len(ws.units.steps(run_id)) == 5
    assert [s["step"] for s in ws.units.steps(run_id, "u0")] == [0, 1, 2]
    assert all(s["unit_key"] == "u1" for s in ws.units.steps(run_id, "u1"))
    assert len(ws.units.findings(other)) == 1 and len(ws.units.steps(other)) == 1


def test_complete_unit_twice_is_a_noop(ws):
    run_id = ws.runs.create("search", {}, 0, MODEL)
    assert ws.units.complete(run_id, "u0", {"success": True}, [finding()], step_rows(3)) is True
    again = ws.units.complete(run_id, "u0", {"success": False}, [finding()], step_rows(4))
    assert again is False
    assert ws.units.completed(run_id) == {"u0": {"success": True}}
    assert len(ws.units.findings(run_id)) == 1
    assert len(ws.units.steps(run_id)) == 3


def test_complete_unit_is_atomic(ws):
    run_id = ws.runs.create("search", {}, 0, MODEL)
    unserializable = [{"step": 0, "objective": object()}]
    with pytest.raises(TypeError):
        ws.units.complete(run_id, "u0", {"success": True}, [finding()], unserializable)
    assert ws.units.completed(run_id) == {}
    assert ws.units.findings(run_id) == [] and ws.units.steps(run_id) == []
    # the unit can still be completed properly afterwards
    ws.units.complete(run_id, "u0", {"success": True}, [finding()], step_rows(1))
    assert len(ws.units.findings(run_id)) == 1


def test_checkpoints_overwrite_and_clear_on_completion(ws):
    run_id = ws.runs.create("search", {}, 0, MODEL)
    assert ws.checkpoints.load(run_id, "u0") is None
    ws.checkpoints.save(run_id, "u0", {"step": 1, "rng": [1, 2]})
    ws.checkpoints.save(run_id, "u0", {"step": 2, "rng": [3, 4]})
    ws.checkpoints.save(run_id, "u1", {"step": 9})
    assert ws.checkpoints.load(run_id, "u0") == {"step": 2, "rng": [3, 4]}
    ws.units.complete(run_id, "u0", {}, [], [])
    assert ws.checkpoints.load(run_id, "u0") is None
    assert ws.checkpoints.load(run_id, "u1") == {"step": 9}


def test_unwritable_workspace_is_a_user_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(TailscopeError, match="not writable.*--workspace") as err:
        Workspace(blocker / "ws")
    assert "\n" not in str(err.value)
    with pytest.raises(TailscopeError, match="not writable"):
        Workspace(blocker)  # the workspace path itself is a file


def test_a_file_that_is_not_a_database_is_a_user_error(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "workspace.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TailscopeError, match="not a tailscope workspace"):
        Workspace(tmp_path / "ws")


def test_newer_schema_is_refused(tmp_path):
    with Workspace(tmp_path / "ws") as ws:
        ws.runs.create("search", {}, 0, {})
    db = sqlite3.connect(tmp_path / "ws" / "workspace.db")
    db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(TailscopeError, match="upgrade tailscope"):
        Workspace(tmp_path / "ws")


def _child(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


UNITS_CHILD = """
    import sys, time
    from tailscope.store import Finding, Workspace
    ws = Workspace(sys.argv[1])
    run_id = sys.argv[2]
    for i in range(3):
        f = Finding(behavior="say", method="arca", success=True, prompt=f"p{i}", output="",
                    verification={"status": "success"}, elapsed_s=1.0)
        steps = [{"step": s, "objective": -float(s)} for s in range(5)]
        ws.units.complete(run_id, f"u{i}", {"success": True}, [f], steps)
        ws.checkpoints.save(run_id, f"u{i + 1}", {"step": 1})  # the next unit is under way
        print(f"done u{i}", flush=True)
        time.sleep(0.2 if i == 0 else 60)
"""


def test_killed_process_keeps_exactly_the_completed_units(tmp_path):
    path = tmp_path / "ws"
    with Workspace(path) as ws:
        run_id = ws.runs.create("search", {}, 0, MODEL)
    child = _child(UNITS_CHILD, str(path), run_id)
    try:
        assert child.stdout.readline().strip() == "done u0"
        assert child.stdout.readline().strip() == "done u1"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with Workspace(path) as ws:
        assert set(ws.units.completed(run_id)) == {"u0", "u1"}
        assert [f.prompt for f in ws.units.findings(run_id)] == ["p0", "p1"]
        assert [s["unit_key"] for s in ws.units.steps(run_id)] == ["u0"] * 5 + ["u1"] * 5
        assert ws.checkpoints.load(run_id, "u2") == {"step": 1}  # resumable mid-unit
        assert ws.runs.get(run_id).status == "running"  # the CLI marks it on resume


BUSY_CHILD = """
    import sys
    from tailscope.store import Finding, Workspace
    ws = Workspace(sys.argv[1])
    run_id = sys.argv[2]
    steps = [{"step": s, "objective": -float(s), "note": "x" * 200} for s in range(400)]
    i = 0
    while True:
        f = Finding(behavior="say", method="arca", success=True, prompt=str(i), output="",
                    verification={"status": "success"})
        ws.units.complete(run_id, f"u{i}", {"i": i}, [f], steps)
        print(i, flush=True)
        i += 1
"""


def test_kill_during_writes_leaves_no_partial_unit(tmp_path):
    """Killed at an arbitrary moment of a stream of large commits: each unit is whole or absent."""
    path = tmp_path / "ws"
    with Workspace(path) as ws:
        run_id = ws.runs.create("search", {}, 0, MODEL)
    child = _child(BUSY_CHILD, str(path), run_id)
    try:
        for _ in range(3):
            child.stdout.readline()
        time.sleep(0.137)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
        child.stdout.close()

    with Workspace(path) as ws:
        units = ws.units.completed(run_id)
        assert len(units) >= 3
        assert set(units) == {f"u{i}" for i in range(len(units))}
        assert sorted(f.unit_key for f in ws.units.findings(run_id)) == sorted(units)
        for key in units:
            assert len(ws.units.steps(run_id, key)) == 400
        assert len(ws.units.steps(run_id)) == 400 * len(units)


CONCURRENT_CHILD = """
    import sys
    from tailscope.store import Finding, Workspace
    ws = Workspace(sys.argv[1])
    run_id = ws.runs.create("search", {}, 0, {"name": "tiny"})
    f = Finding(behavior="say", method="arca", success=False, prompt="p", output="",
                verification={"status": "no_match"})
    for i in range(40):
        ws.units.complete(run_id, f"u{i}", {}, [f], [{"step": 0}])
        ws.checkpoints.save(run_id, f"u{i + 1}", {"step": 0})
        ws.runs.set_progress(run_id, {"units_done": i + 1})
    print(run_id, flush=True)
"""


def test_several_processes_write_one_workspace(tmp_path):
    path = tmp_path / "ws"
    children = [_child(CONCURRENT_CHILD, str(path)) for _ in range(3)]
    run_ids = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        run_ids.append(out.strip())
    with Workspace(path) as ws:
        assert {r.id for r in ws.runs.list()} == set(run_ids)
        for run_id in run_ids:
            assert len(ws.units.completed(run_id)) == 40
            assert ws.runs.get(run_id).progress == {"units_done": 40}
