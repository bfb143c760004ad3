"""`--candidate-constraints` from the command line, and the candidate filters' drop counts
per reason in `show --json` and in the report, on a real search with the tiny model."""

from __future__ import annotations

import json
import re

from tests.cli import tailscope

# A behavior with forbidden text and a detector constraint on the prompt: no letter "e".
BEHAVIOR = """\
name: ok-without-e
description: The reply is " ok" and the prompt has no letter e.
output: {target: " ok"}
forbid_in_prompt: [ok]
constraints:
  - detector: {kind: text, mode: contains, pattern: e}
    max: 0.5
"""


def test_the_help_says_what_candidate_constraints_cost(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # option names unabridged
    for command in ("search", "audit"):
        helped = tailscope(command, "--help", workspace=tmp_path / "ws")
        text = " ".join(helped.stdout.split())
        assert "--candidate-constraints" in text, command
        assert "one batched detector call per step" in text, command


def _search(tmp_path, model_dir, *flags: str) -> dict:
    ws = tmp_path / "ws"
    spec = tmp_path / "ok-without-e.yaml"
    spec.write_text(BEHAVIOR)
    result = tailscope(
        "search", "-b", str(spec), "-m", str(model_dir), "--method", "gcg",
        "-o", "search_width=24", "-o", "topk=24", "--init-prompt", " fun at a park",
        "--steps", "3", *flags, workspace=ws,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = [r for r in json.loads(tailscope("runs", "--json", workspace=ws).stdout)
             if r["config"]["settings"]["candidate_constraints"] == bool(flags)]  # fmt: skip
    return json.loads(tailscope("show", run["id"], "--json", workspace=ws).stdout)


def test_drop_counts_per_reason_reach_show_json_and_the_report(tmp_path, tiny_model_dir):
    shown = _search(tmp_path, tiny_model_dir, "--candidate-constraints")
    assert shown["run"]["config"]["settings"]["candidate_constraints"] is True
    [finding] = shown["findings"]
    dropped = finding["candidates_dropped"]
    assert set(dropped) == {"roundtrip", "forbidden_text", "constraints"}
    assert dropped["constraints"] > 0  # random swaps into the prompt bring letters "e"
    # Every candidate is either scored or dropped for one reason: 3 steps of 24.
    assert finding["candidates_scored"] + sum(dropped.values()) == 3 * 24
    assert "e" not in finding["user_text"]  # the filter kept the search inside the constraint
    report = tmp_path / "report.html"
    made = tailscope("report", shown["run"]["id"], "-o", str(report), workspace=tmp_path / "ws")
    assert made.returncode == 0, made.stderr
    page = re.sub(r"\s+", " ", report.read_text(encoding="utf-8"))
    assert "candidates dropped / scored" in page
    total = f"{sum(dropped.values()):,} / {finding['candidates_scored']:,}"
    assert total in page
    assert f"prompt detectors {dropped['constraints']:,}" in page
    assert f"round trip {dropped['roundtrip']:,}" in page


def test_without_the_flag_no_candidate_is_dropped_for_the_detectors(tmp_path, tiny_model_dir):
    shown = _search(tmp_path, tiny_model_dir)
    [finding] = shown["findings"]
    assert set(finding["candidates_dropped"]) == {"roundtrip", "forbidden_text"}
    assert finding["candidates_scored"] + sum(finding["candidates_dropped"].values()) == 3 * 24
