"""Hostile input and faults (issue 17): each test reproduces a defect found by trying the
CLI as a hostile but honest user would, through the real `tailscope` command."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tailscope.behaviors.ref import BehaviorRef
from tailscope.elicit.session import ElicitConfig
from tailscope.redteam.session import RedTeamConfig
from tailscope.search.config import SearchConfig, SearchSettings
from tailscope.store import Elicitation, Finding, RedTeamCase, Verification, Workspace
from tests.cli import assert_one_line_error, kill_when, start, tailscope

HOSTILE = "[/INST] [bold]x[/bold] [/bold] \x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x08\x7f end"
SHOWN = "[/INST] [bold]x[/bold] [/bold] \\x1b[31mred\\x1b[0m \\x1b]0;pwned\\x07 \\x08\\x7f end"


def _search(model: Path, *extra: str) -> list[str]:
    return ["search", "-b", "say", "-p", "target=hi", "-m", str(model), "--steps", "2", *extra]


# ---- 1. YAML that explodes, and files that are not what they claim ----------------------


def _bomb(path: Path, levels: int = 7) -> Path:
    lines = ["name: bomb", 'output: {target: "{t}"}', "params: {t: {required: true}}"]
    lines.append('a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path.write_text("\n".join(lines) + "\n")
    return path


def _limited(args: list[str], workspace: Path, memory_bytes: int) -> subprocess.CompletedProcess:
    """`tailscope ARGS` with its address space capped: an unbounded parser dies instead of
    taking the machine with it."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    env = {**os.environ, "TAILSCOPE_WORKSPACE": str(workspace)}
    return subprocess.run(
        [sys.executable, "-m", "tailscope", *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=cap,
        timeout=600,
    )


def test_a_yaml_alias_bomb_is_refused_not_expanded(tmp_path):
    bomb = _bomb(tmp_path / "bomb.yaml", levels=9)  # 387 million strings if expanded
    for args in (["behaviors", "show", str(bomb), "-p", "t=x"], ["search", "-b", str(bomb)]):
        result = _limited(args, tmp_path / "ws", 8 << 30)  # torch alone maps ~3 GiB
        assert_one_line_error(result, "bomb.yaml", "aliases")
    assert not (tmp_path / "ws").exists()


def test_files_too_large_or_not_text_get_one_line_that_says_so(tmp_path):
    ws = tmp_path / "ws"
    big = tmp_path / "big.yaml"
    big.write_text("name: big\noutput: {target: hi}\ndescription: " + "x" * (2 << 20) + "\n")
    utf16 = tmp_path / "u16.yaml"
    utf16.write_text("name: u16\noutput: {target: hi}\n", encoding="utf-16")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(256)) * 8)
    folder = tmp_path / "spec.yaml"
    folder.mkdir()
    assert_one_line_error(tailscope("behaviors", "show", str(big), workspace=ws), "limit")
    assert_one_line_error(tailscope("behaviors", "show", str(binary), workspace=ws), "UTF-8")
    assert_one_line_error(tailscope("behaviors", "show", str(folder), workspace=ws), "directory")
    shown = tailscope("behaviors", "show", str(utf16), workspace=ws)  # a BOM says how to read it
    assert shown.returncode == 0, shown.stderr
    assert "u16" in shown.stdout


def test_a_csv_with_a_utf8_bom_finds_its_column(tmp_path):
    pool = tmp_path / "q.csv"
    pool.write_bytes(b"\xef\xbb\xbfquery,p\nWhat is a cat?,0.1\nWhat is a dog?,0.2\n")
    result = tailscope(
        "queries", "import", str(pool), "--pool", "bom", "--json", workspace=tmp_path / "ws"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 2


def test_a_huge_target_is_refused_naming_the_field_before_any_model_loads(tmp_path):
    spec = tmp_path / "long.yaml"
    spec.write_text("name: long\noutput: {target: " + "ab " * 300_000 + "end}\n")
    result = tailscope("search", "-b", str(spec), "-m", "hf:nowhere", workspace=tmp_path / "ws")
    assert_one_line_error(result, "output.target", "900,003 characters")


# ---- 2. Untrusted text on the terminal ---------------------------------------------------


def _finding(text: str) -> Finding:
    verification = Verification(status="success", greedy_match=True)
    return Finding(
        behavior="say",
        behavior_label=f"say(target={text})",
        method="arca",
        prompt=text,
        output=text,
        success=True,
        verification=verification,
    )


def _hostile_workspace(path: Path) -> dict[str, str]:
    """Runs of every kind whose stored text (queries, replies, prompts, names) is hostile,
    recorded through the store as the runs themselves record it."""
    ws = Workspace(path)
    ws.pools.create(HOSTILE)
    ws.pools.add(HOSTILE, [f"{HOSTILE} {i}?" for i in range(3)], source="test")
    behavior = BehaviorRef(name="say", params={"target": HOSTILE})
    configs = {
        "search": SearchConfig(model=HOSTILE, behaviors=[behavior], settings=SearchSettings()),
        "elicit": ElicitConfig(model=HOSTILE, behavior=behavior, pool=HOSTILE),
        "redteam": RedTeamConfig(model=HOSTILE, behavior=behavior, system_prompt=HOSTILE),
    }
    runs = {
        kind: ws.runs.create(kind, config.model_dump(mode="json"), 0, {"name": HOSTILE})
        for kind, config in configs.items()
    }
    ws.units.complete(runs["search"], "0:say/restart0", {}, [_finding(HOSTILE)])
    rows = [
        Elicitation(
            query_idx=i,
            query=f"{HOSTILE} {i}?",
            method="sample",
            p=0.5,
            low=0.1,
            high=0.9,
            hits=1,
            k=2,
        )
        for i in range(3)
    ]
    ws.elicitations.record(runs["elicit"], rows)
    case = RedTeamCase(test_case=HOSTILE, reply=HOSTILE, score=0.9, hit=True, source=HOSTILE)
    ws.redteam.record_round(runs["redteam"], 0, [case], {})
    for run_id in runs.values():
        ws.runs.set_status(run_id, "completed", error=HOSTILE)
    return runs


def test_markup_and_escape_sequences_in_stored_text_print_literally(tmp_path):
    ws = tmp_path / "ws"
    runs = _hostile_workspace(ws)
    outputs = [
        tailscope("queries", "list", workspace=ws),
        tailscope("runs", workspace=ws),
        tailscope("redteam", "--show", runs["redteam"], workspace=ws),
        *(tailscope("show", run_id, workspace=ws) for run_id in runs.values()),
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "Traceback" not in result.stderr
    wide = {**os.environ, "COLUMNS": "400", "TAILSCOPE_WORKSPACE": str(ws)}
    listed = subprocess.run(
        [sys.executable, "-m", "tailscope", "show", runs["redteam"]],
        capture_output=True,
        text=True,
        env=wide,
    )
    assert SHOWN in listed.stdout  # every character there, the controls made visible


# ---- 3-4. Resume: from the record, and only of the right kind -----------------------------


def test_a_resume_uses_the_behavior_as_recorded_not_the_file(tmp_path, tiny_model_dir):
    ws = tmp_path / "ws"
    spec = tmp_path / "mine.yaml"
    spec.write_text("name: mine\noutput: {target: Hello there}\nprompt_length: 3\n")
    result = tailscope("search", "-b", "mine.yaml", "-m", str(tiny_model_dir), "--steps", "2",
                       "--restarts", "2", "--json", workspace=ws, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = json.loads(tailscope("runs", "--json", workspace=ws).stdout)[0]
    spec.unlink()  # resumed from elsewhere, with the file gone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "TAILSCOPE_WORKSPACE": str(ws)}
    resumed = subprocess.run(
        [sys.executable, "-m", "tailscope", "search", "--resume", run["id"], "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=elsewhere,
    )
    assert resumed.returncode == 0, resumed.stderr
    findings = json.loads(resumed.stdout)
    assert [f["target_output"] for f in findings] == ["Hello there"] * 2


def test_resuming_a_run_of_another_kind_or_with_new_options_is_one_line(tmp_path):
    ws = tmp_path / "ws"
    runs = _hostile_workspace(ws)
    for command in ("search", "audit", "redteam"):
        result = tailscope(command, "--resume", runs["elicit"], workspace=ws)
        assert_one_line_error(result, "is a elicit run", "elicit --resume")
    result = tailscope("search", "--resume", runs["search"], "--steps", "9", workspace=ws)
    assert_one_line_error(result, "--steps", "would be ignored")


# ---- 5. A damaged database ----------------------------------------------------------------


def test_a_database_with_a_valid_header_and_garbage_pages_is_one_line(tmp_path):
    ws = tmp_path / "ws"
    runs = _hostile_workspace(ws)
    db = ws / "workspace.db"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = bytes((i * 131 + 7) % 251 for i in range(len(data) - page))
    db.write_bytes(bytes(data))
    for args in (["runs"], ["queries", "list"], ["show", runs["search"]]):
        assert_one_line_error(tailscope(*args, workspace=ws), "workspace")


# ---- 8-9. Numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (_search(Path("hf:nowhere"), "--lam-perp", "nan"), "lam-perp must be a finite number"),
        (_search(Path("hf:nowhere"), "--seconds", "inf"), "finite"),
        (_search(Path("hf:nowhere"), "-o", "n_candidates=nan"), "finite"),
        (["audit", "--seconds", "0"], "--seconds must be positive"),
        (["audit", "--seconds", "-1"], "--seconds must be positive"),
        (
            ["redteam", "-b", "offensive-replies", "--method", "few-shot", "-o", "temperature=inf"],
            "finite",
        ),
        (
            ["elicit", "-b", "say", "-p", "target=x", "--pool", "p", "--temperature", "inf"],
            "finite",
        ),
    ],
)
def test_non_finite_and_zero_budgets_are_refused_before_anything_runs(tmp_path, args, fragment):
    assert_one_line_error(tailscope(*args, workspace=tmp_path / "ws"), fragment)
    assert not (tmp_path / "ws").exists()  # and no workspace is created for it


def test_a_generation_length_past_the_models_context_is_refused(tmp_path, tiny_model_dir):
    ws = tmp_path / "ws"
    pool = tmp_path / "q.txt"
    pool.write_text("What is a cat?\nWhat is a dog?\n")
    assert tailscope("queries", "import", str(pool), "--pool", "p", workspace=ws).returncode == 0
    tiny = str(tiny_model_dir)
    for args in (
        [
            "elicit",
            "-b",
            "say",
            "-p",
            "target=x",
            "--pool",
            "p",
            "-m",
            tiny,
            "--max-new-tokens",
            "100000000",
        ],
        ["redteam", "-b", "offensive-replies", "-m", tiny, "--max-new-tokens", "100000000"],
    ):
        assert_one_line_error(tailscope(*args, workspace=ws), "--max-new-tokens 100000000")
    assert json.loads(tailscope("runs", "--json", workspace=ws).stdout) == []  # none recorded


# ---- 10. Messages that name the real problem ----------------------------------------------


def test_a_model_directory_with_only_a_config_is_one_line(tmp_path, tiny_model_dir):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(tiny_model_dir / "config.json", partial / "config.json")
    result = tailscope(*_search(partial), workspace=tmp_path / "ws")
    assert_one_line_error(result, "no weights")


def test_importing_from_a_missing_run_says_the_run_is_missing(tmp_path):
    result = tailscope("queries", "import", "--from-run", "r-nope", "--pool", "p",
                       workspace=tmp_path / "ws")  # fmt: skip
    assert_one_line_error(result, "no run 'r-nope'")


# ---- 11. Side effects and stale states -----------------------------------------------------


def test_rejected_commands_create_no_workspace(tmp_path):
    ws = tmp_path / "ws"
    for args in (
        ["search", "-b", "no-such-behavior"],
        ["elicit", "-b", "say", "-p", "target=x", "--pool", "no-such-pool"],
        ["redteam", "--method", "nope", "-b", "offensive-replies"],
        ["runs"],
        ["show", "r-nope"],
    ):
        tailscope(*args, workspace=ws)
        assert not ws.exists(), args


def _recorded(ws: Path) -> bool:
    """The run is recorded: its model is loaded and it is executing."""
    return (ws / "workspace.db").exists() and bool(Workspace(ws).runs.list())


def test_sigterm_marks_a_run_interrupted_and_sigkill_reads_as_interrupted(tmp_path, tiny_model_dir):
    for sig, ws in ((signal.SIGTERM, tmp_path / "term"), (signal.SIGKILL, tmp_path / "kill")):
        proc = start(*_search(tiny_model_dir, "--steps", "100000"), workspace=ws)
        kill_when(proc, lambda ws=ws: _recorded(ws), sig)
        runs = json.loads(tailscope("runs", "--json", workspace=ws).stdout)
        assert [r["status"] for r in runs] == ["interrupted"], (sig, runs)
    assert proc.returncode == -signal.SIGKILL


def _kinds(model: Path) -> dict[str, list[str]]:
    m = str(model)
    return {
        "search": _search(model, "--steps", "100000"),
        "elicit": ["elicit", "-b", "say", "-p", "target=hi", "--pool", "p", "-m", m, "--k", "4",
                   "--chunk", "1"],
        "redteam": ["redteam", "-b", "offensive-replies", "-m", m, "--budget", "4096",
                    "--batch", "2"],
        "audit": ["audit", "-m", m, "--quick", "--steps", "50", "--queries", "8", "--budget", "4",
                  "--output", "report.html"],
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["search", "elicit", "redteam", "audit"])
def test_every_kind_killed_mid_run_reads_interrupted(tmp_path, tiny_model_dir, kind):
    ws = tmp_path / "ws"
    Workspace(ws).pools.create("p")
    Workspace(ws).pools.add("p", [f"What is thing number {i}?" for i in range(64)], "test")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tailscope", *_kinds(tiny_model_dir)[kind]],
        env={**os.environ, "TAILSCOPE_WORKSPACE": str(ws)},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_when(proc, lambda: _recorded(ws))
    runs = json.loads(tailscope("runs", "--json", workspace=ws).stdout)
    assert runs and {r["status"] for r in runs} <= {"interrupted", "completed"}, runs
    killed = [r for r in runs if r["status"] == "interrupted"]
    assert [r["kind"] for r in killed][-1] == kind  # the outer run, listed last (oldest)


def test_a_run_killed_while_its_model_loads_leaves_no_running_run(tmp_path, tiny_model_dir):
    ws = tmp_path / "ws"
    ws.mkdir()
    proc = start(*_search(tiny_model_dir), workspace=ws)
    kill_when(proc, lambda: True)  # at once: during imports or the model load
    statuses = {r["status"] for r in json.loads(tailscope("runs", "--json", workspace=ws).stdout)}
    assert statuses <= {"completed", "interrupted", "failed"}


def _read_only(path: Path) -> None:
    if os.geteuid() != 0:
        for p in (path, *path.iterdir()):
            p.chmod(0o555 if p.is_dir() else 0o444)
        return
    # root writes through permissions; the immutable attribute stops it too
    every = [str(path), *map(str, path.iterdir())]
    if subprocess.run(["chattr", "+i", *every], capture_output=True).returncode != 0:
        pytest.skip("cannot make a directory read-only here (root without chattr)")


def test_a_read_only_workspace_can_still_be_read(tmp_path):
    ws = tmp_path / "ws"
    runs = _hostile_workspace(ws)
    Workspace(ws).close()
    _read_only(ws)
    try:
        listed = tailscope("runs", "--json", workspace=ws)
        assert listed.returncode == 0, listed.stderr
        assert {r["id"] for r in json.loads(listed.stdout)} == set(runs.values())
        shown = tailscope("show", runs["search"], workspace=ws)
        assert shown.returncode == 0, shown.stderr
        report = tailscope("report", *runs.values(), "-o", str(tmp_path / "r.html"), workspace=ws)
        assert report.returncode == 0, report.stderr
        written = tailscope("queries", "import", "--from-run", runs["search"], "--pool", "x",
                            workspace=ws)  # fmt: skip
        assert_one_line_error(written, "read-only")
    finally:
        subprocess.run(["chattr", "-R", "-i", str(ws)], capture_output=True)
        ws.chmod(0o755)


# ---- 12. Help keeps its brackets ------------------------------------------------------------


def test_help_keeps_text_in_square_brackets(tmp_path):
    env = {**os.environ, "COLUMNS": "300", "TAILSCOPE_WORKSPACE": str(tmp_path / "ws")}
    expected = {
        "search": ["[env TAILSCOPE_WORKSPACE; default ./tailscope-workspace]",
                   "[default: the behavior's, else the model's]"],
        "elicit": ["[default: 256 exact, 32 sample]"],
        "redteam": ["[default: 128]", "[default: the target attacks itself]",
                    "[default: the behavior's]"],
    }  # fmt: skip
    for command, fragments in expected.items():
        shown = subprocess.run(
            [sys.executable, "-m", "tailscope", command, "--help"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert shown.returncode == 0, shown.stderr
        for fragment in fragments:
            assert fragment in shown.stdout, (command, fragment)
