"""Query pools and elicitation results in the workspace; migration from older schemas, and
a workspace written by the version before the store held typed records."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tailscope.errors import TailscopeError
from tailscope.report import write_report
from tailscope.store import Elicitation, Workspace
from tailscope.store.schema import _SCHEMA, SCHEMA_VERSION

V3_WORKSPACE = Path(__file__).parent / "data" / "workspace-v3"


def test_pools_grow_without_duplicates_and_keep_their_order(tmp_path):
    ws = Workspace(tmp_path / "ws")
    assert ws.pools.create("qs", {"created_by": "test"})
    assert not ws.pools.create("qs")  # exists: nothing changes
    assert ws.pools.add("qs", ["a?", "b?", "a?"], source="file") == 2
    assert ws.pools.add("qs", ["b?", "c?"], source="generate") == 1
    assert ws.pools.queries("qs") == ["a?", "b?", "c?"]
    assert ws.pools.list()[0].size == 3
    with pytest.raises(TailscopeError, match="no query pool 'nope'.*qs"):
        ws.pools.queries("nope")
    with pytest.raises(TailscopeError, match="no query pool"):
        ws.pools.add("nope", ["x?"], source="file")


def test_elicitation_results_are_recorded_once_per_query(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run_id = ws.runs.create("elicit", {}, 0, {})
    rows = [
        Elicitation(query_idx=1, query="b?", method="sample", p=0.5, hits=2, k=4),
        Elicitation(query_idx=0, query="a?", method="sample", p=0.0, hits=0, k=4),
    ]
    assert ws.elicitations.record(run_id, rows) == 2
    again = [rows[0].model_copy(update={"p": 0.9})]
    assert ws.elicitations.record(run_id, again) == 0  # a resumed worker never doubles it
    stored = ws.elicitations.list(run_id)
    assert [r.query_idx for r in stored] == [0, 1] and stored[1].p == 0.5
    assert stored[1] == rows[0]
    assert ws.elicitations.indices(run_id) == {0, 1}
    with pytest.raises(TailscopeError, match="no run"):
        ws.elicitations.record("r-nope", rows)


def test_a_version_1_workspace_is_migrated_in_place(tmp_path):
    path = tmp_path / "ws"
    path.mkdir()
    db = sqlite3.connect(path / "workspace.db")
    db.executescript(_SCHEMA)
    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO runs VALUES ('r-old', 'search', '{}', 0, '{}', '{}', 'completed', NULL,"
        " '{}', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    ws = Workspace(path)
    assert ws.runs.get("r-old").status == "completed"  # old data intact
    version = ws.db.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0]
    assert int(version) == SCHEMA_VERSION >= 4
    ws.pools.create("qs")
    assert ws.pools.add("qs", ["a?"], source="file") == 1


def test_a_workspace_written_before_typed_records_opens_and_reports(tmp_path):
    """tests/data/workspace-v3 was written by tailscope before the store took and returned
    typed records (search, audit, exact and sampled elicitation, few-shot red team)."""
    path = tmp_path / "ws"
    shutil.copytree(V3_WORKSPACE, path)
    ws = Workspace(path)
    runs = {r.kind: r for r in ws.runs.list()}
    assert set(runs) == {"search", "audit", "elicit", "redteam"}
    assert all(r.status == "completed" for r in ws.runs.list())
    findings = ws.units.findings(runs["search"].id)
    assert len(findings) == 2 and {f.restart for f in findings} == {0, 1}
    assert all(f.behavior == "say" and f.verification.status for f in findings)
    assert findings[0].label == "say(target=Hello there)" and findings[0].forward_tokens > 0
    elicit = [r for r in ws.runs.list() if r.kind == "elicit"]
    rows = {r.config["method"]: ws.elicitations.list(r.id) for r in elicit}
    assert [r.query for r in rows["exact"]][:2] == ["What is your name?", "How are you today?"]
    assert all(r.logp < 0 and r.p > 0 for r in rows["exact"])
    assert all(r.k == 4 and 0 <= r.hits <= 4 for r in rows["sample"])
    cases = ws.redteam.cases(runs["redteam"].id)
    assert len(cases) == 12 and {c.source for c in cases} >= {"zero-shot"}
    assert [c.round for c in cases] == sorted(c.round for c in cases)
    page = write_report(ws, [r.id for r in ws.runs.list()], tmp_path / "report.html").read_text()
    assert "Summary per behavior" in page and cases[0].test_case.split()[0] in page
