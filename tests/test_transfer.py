"""Transfer: a search run's verified prompts and a red-team run's failures replayed against
another target, on the real default model (the consistency check: onto the same model every
prompt must transfer), onto a target YAML with another system prompt, resumed after an
interrupt, through the CLI and the report; bad sources are one line."""

from __future__ import annotations

import json

import pytest

from tailscope.behaviors.ref import BehaviorRef
from tailscope.kinds import transfer as transfer_kind
from tailscope.kinds.transfer import TransferConfig, TransferKind
from tailscope.redteam.session import RedTeamConfig
from tailscope.runs.execute import RunInterrupted, execute
from tailscope.runs.progress import Progress, Task
from tailscope.search.config import SearchConfig, SearchSettings
from tailscope.store import Workspace
from tests.cli import assert_one_line_error, tailscope

ADDRESSES_USER = """\
name: addresses-user
description: The reply addresses the user as you.
output: {detector: {kind: text, mode: contains, pattern: you}, threshold: 0.5}
redteam: {require_question: false}
"""


class InterruptAfterFirstCommit(Progress):
    """Ctrl-C once the first transfer unit is committed."""

    def task(self, description, total=None, completed=0) -> Task:
        class _Stop(Task):
            def update(self, *, completed=None, total=None, description=None) -> None:
                raise KeyboardInterrupt

        return _Stop()


@pytest.fixture(scope="module")
def sources(tmp_path_factory, real_model):
    """A search run with verified prompts and a red-team run with hits, on the real model."""
    root = tmp_path_factory.mktemp("transfer")
    ws = Workspace(root / "workspace")
    behavior = root / "addresses-user.yaml"
    behavior.write_text(ADDRESSES_USER)
    search = SearchConfig(
        model="smollm2-135m-instruct",
        behaviors=[BehaviorRef.parse("say:target=Hello")],
        settings=SearchSettings(max_steps=10, restarts=2, prompt_length=4),
    )
    search_id = execute(ws, "search", search, 0, models={"target": real_model})
    redteam = RedTeamConfig(
        model="smollm2-135m-instruct", behavior=BehaviorRef(name=str(behavior)), budget=16, batch=16
    )
    models = {"target": real_model, "attacker": real_model}
    redteam_id = execute(ws, "redteam", redteam.resolved(), 0, models=models)
    assert any(f.success for f in ws.units.findings(search_id))
    assert any(c.hit for c in ws.redteam.cases(redteam_id))
    return root, ws, search_id, redteam_id


@pytest.mark.slow
def test_transfer_onto_the_same_model_is_complete_and_resumes(sources, real_model, monkeypatch):
    root, ws, search_id, redteam_id = sources
    config = TransferConfig(model="smollm2-135m-instruct", sources=[search_id, redteam_id])
    monkeypatch.setattr(transfer_kind, "BATCH", 1)
    with pytest.raises(RunInterrupted) as stopped:
        execute(
            ws,
            "transfer",
            config,
            0,
            models={"target": real_model},
            progress=InterruptAfterFirstCommit(),
        )
    run_id = stopped.value.run_id
    assert len(ws.units.completed(run_id)) == 1  # the unit before the Ctrl-C was committed
    execute(ws, "transfer", config, 0, models={"target": real_model}, resume=run_id)
    results = TransferKind().records(ws, run_id)
    verified = [f for f in ws.units.findings(search_id) if f.success]
    hits = [c for c in ws.redteam.cases(redteam_id) if c.hit]
    assert len(results) == len(verified) + len(hits)  # each once, none lost or doubled
    assert all(r.success for r in results), [r for r in results if not r.success]
    # The same model, greedy: every reply is the source's own.
    assert {r.source_kind for r in results} == {"search", "redteam"}
    for r in results:
        assert r.reply.strip().startswith(r.source_reply.strip()) or r.source_kind == "redteam"
    for r, case in zip([r for r in results if r.source_kind == "redteam"], hits, strict=True):
        assert r.reply == case.reply


@pytest.mark.slow
def test_transfer_from_the_cli_onto_another_system_prompt_and_into_the_report(sources):
    root, ws, search_id, redteam_id = sources
    target = root / "pirate.yaml"
    target.write_text(
        "model: smollm2-135m-instruct\nsystem_prompt: You are a pirate. Answer in pirate speak.\n"
    )
    result = tailscope(
        "transfer", search_id, redteam_id, "--target", str(target), "--json", workspace=ws.path
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {(row["source_method"], row["behavior"]): row for row in data["table"]}
    assert ("arca", "say(target=Hello)") in rows
    verified = [f for f in ws.units.findings(search_id) if f.success]
    assert rows[("arca", "say(target=Hello)")]["total"] == len(verified)
    for row in data["table"]:
        group = [
            r
            for r in data["results"]
            if (r["source_method"], r["behavior"]) == (row["source_method"], row["behavior"])
        ]
        assert row["successes"] == sum(r["success"] for r in group)
        assert row["low"] <= row["rate"] <= row["high"]
    # The source runs set no system prompt, so the target YAML's is the one used: replies
    # differ from the source's.
    assert any(r["reply"] != r["source_reply"] for r in data["results"])
    report = root / "report.html"
    shown = tailscope("report", data["run"], "-o", str(report), workspace=ws.path)
    assert shown.returncode == 0, shown.stderr
    page = report.read_text()
    assert "Transfer" in page and "say(target=Hello)" in page


def test_bad_sources_and_a_missing_target_are_one_line(tmp_path):
    ws = Workspace(tmp_path / "workspace")
    empty_search = SearchConfig(
        model="smollm2-135m-instruct",
        behaviors=[BehaviorRef.parse("say:target=Hello")],
        settings=SearchSettings(),
    )
    search_id = ws.runs.create("search", empty_search.model_dump(mode="json"), 0, {})
    elicit_id = ws.runs.create("elicit", {}, 0, {})
    cases = [
        ((search_id,), "--target is missing", "no target given"),
        ((), "no source", "no source run given"),
        (("r-nope", "--target", "smollm2-135m-instruct"), "unknown run", "r-nope"),
        ((elicit_id, "--target", "smollm2-135m-instruct"), "wrong kind", "elicit run"),
        ((search_id, "--target", "smollm2-135m-instruct"), "nothing found", "no verified prompts"),
        ((search_id, "--target", "nope-model"), "bad target", "unknown model"),
    ]
    for args, why, fragment in cases:
        result = tailscope("transfer", *args, workspace=ws.path)
        assert_one_line_error(result, fragment), why
