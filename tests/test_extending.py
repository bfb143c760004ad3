"""docs/extending.md's examples, each one file, loaded as plugins and run through the real
command line: a new search method, red-team method, detector, backend and run kind need
nothing but their own file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.cli import assert_one_line_error, tailscope

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
_FILE_BLOCK = re.compile(r"```python\n# file: (?P<name>\w+)\.py\n(?P<code>.*?)```", re.DOTALL)
_YAML_BLOCK = re.compile(r"```yaml\n# (?P<name>[\w.-]+\.yaml)[^\n]*\n(?P<code>.*?)```", re.DOTALL)


@pytest.fixture()
def plugins(tmp_path, monkeypatch) -> Path:
    """The page's files written out, named in TAILSCOPE_PLUGINS for every `tailscope` call."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    text = DOC.read_text(encoding="utf-8")
    names = []
    for block in _FILE_BLOCK.finditer(text):
        (folder / f"{block['name']}.py").write_text(block["code"])
        names.append(block["name"])
    for block in _YAML_BLOCK.finditer(text):
        (folder / block["name"]).write_text(block["code"])
    assert names == ["random_swap", "replay", "shouting", "echo", "refusal_rate"]
    monkeypatch.setenv("TAILSCOPE_PLUGINS", ",".join(names))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    )
    return folder


def test_the_search_method_is_listed_and_searches(tmp_path, plugins, tiny_model_dir):
    ws = tmp_path / "ws"
    helped = tailscope("search", "--help", workspace=ws)
    assert "random-swap" in helped.stdout and "n_candidates=16" in helped.stdout
    result = tailscope(
        "search", "-b", "say:target=Hello there", "-m", str(tiny_model_dir),
        "--method", "random-swap", "-o", "n_candidates=4", "--steps", "3", "--json",
        workspace=ws,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [finding] = json.loads(result.stdout)
    assert finding["method"] == "random-swap" and finding["steps"] == 3
    # It goes through the shared candidate filters: each swap is scored or dropped, counted.
    assert set(finding["candidates_dropped"]) == {"roundtrip", "forbidden_text"}
    assert finding["candidates_scored"] + sum(finding["candidates_dropped"].values()) == 3 * 4
    assert finding["verification"]["status"] in ("success", "no_match", "ids_only")
    bad = tailscope(
        "search", "-b", "say:target=hi", "-m", str(tiny_model_dir), "--method", "random-swap",
        "-o", "n_candidates=0", workspace=ws,
    )  # fmt: skip
    assert_one_line_error(bad, "n_candidates")


def test_the_backend_detector_and_red_team_method_work_together(tmp_path, plugins):
    """A parrot target, a replayed list of test cases, and a detector of shouted replies."""
    ws = tmp_path / "ws"
    cases = tmp_path / "cases.txt"
    cases.write_text("STOP SHOUTING AT ME\nhello there, how are you\nWHY ARE YOU LIKE THIS\n")
    result = tailscope(
        "redteam", "-m", "echo:", "-b", str(plugins / "shouts.yaml"), "--method", "replay",
        "-o", f"file={cases}", "--budget", "8", "--json", workspace=ws,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert (summary["queries"], summary["hits"]) == (3, 2)  # the file ran out before the budget
    assert summary["by_source"] == {"replay": {"queries": 3, "hits": 2, "hit_rate": 2 / 3}}
    shown = tailscope("behaviors", "show", str(plugins / "shouts.yaml"), workspace=ws)
    assert shown.returncode == 0 and '"kind": "shouting"' in shown.stdout
    models = tailscope("models", workspace=ws)
    assert "echo" in models.stdout and "generate" in models.stdout


def test_a_method_needing_more_than_the_backend_offers_is_one_line(tmp_path, plugins):
    ws = tmp_path / "ws"
    search = tailscope("search", "-m", "echo:", "-b", "say", "-p", "target=hi", workspace=ws)
    assert_one_line_error(search, "white-box search (arca) needs white-box access", "echo backend")
    tailscope("queries", "import", str(_queries(tmp_path)), "--pool", "qs", workspace=ws)
    exact = tailscope(
        "elicit", "-m", "echo:", "-b", "say", "-p", "target=hi", "--pool", "qs",
        "--method", "exact", workspace=ws,
    )  # fmt: skip
    assert_one_line_error(exact, "exact log-probabilities", "echo:")
    rl = tailscope(
        "redteam", "-m", "echo:", "-b", "offensive-replies", "--method", "rl", workspace=ws
    )
    assert_one_line_error(rl, "red-team method rl (the attacker) needs fine-tuning")
    assert (
        not (ws / "workspace.db").exists()
        or json.loads(tailscope("runs", "--json", workspace=ws).stdout) == []
    )  # refused before any run was recorded


def _queries(tmp_path: Path) -> Path:
    path = tmp_path / "benign.txt"
    path.write_text("What is the capital of France?\nHow do plants grow?\nWhat is rain?\n")
    return path


def test_the_run_kind_runs_resumes_shows_and_reports(tmp_path, plugins):
    ws = tmp_path / "ws"
    assert (
        tailscope(
            "queries", "import", str(_queries(tmp_path)), "--pool", "benign", workspace=ws
        ).returncode
        == 0
    )
    config = tmp_path / "refusals.yaml"
    config.write_text("model: 'echo:I am sorry, but '\npool: benign\n")
    helped = tailscope("run", "--help", workspace=ws)
    assert "refusal-rate" in helped.stdout
    result = tailscope("run", "refusal-rate", "-c", str(config), "--json", workspace=ws)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    replies = data["replies"]
    assert [r["query"] for r in replies] == _queries(tmp_path).read_text().splitlines()
    assert all(r["refused"] and r["reply"].startswith("I am sorry, but") for r in replies)
    runs = json.loads(tailscope("runs", "--json", workspace=ws).stdout)
    assert [(r["kind"], r["status"]) for r in runs] == [("refusal-rate", "completed")]
    again = tailscope("run", "refusal-rate", "--resume", data["run"], "--json", workspace=ws)
    assert again.returncode == 0 and json.loads(again.stdout)["replies"] == replies
    report = tmp_path / "report.html"
    made = tailscope("report", data["run"], "-o", str(report), workspace=ws)
    assert made.returncode == 0, made.stderr
    page = report.read_text()
    assert "Refusal rate" in page and "100% of 3 benign queries refused" in page
    assert "3 replies, 100% refused" in page  # its line in the table of runs
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: 'echo:'\n")
    assert_one_line_error(
        tailscope("run", "refusal-rate", "-c", str(bad), workspace=ws), "field 'pool'"
    )
    assert_one_line_error(tailscope("run", "no-such-kind", workspace=ws), "unknown run kind")
