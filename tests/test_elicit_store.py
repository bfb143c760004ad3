"""Query pools and elicitation results in the workspace; migration from schema version 1."""

from __future__ import annotations

import sqlite3

import pytest

from tailscope.errors import TailscopeError
from tailscope.store.workspace import _SCHEMA, SCHEMA_VERSION, Workspace


def test_pools_grow_without_duplicates_and_keep_their_order(tmp_path):
    ws = Workspace(tmp_path / "ws")
    assert ws.create_pool("qs", {"created_by": "test"})
    assert not ws.create_pool("qs")  # exists: nothing changes
    assert ws.add_queries("qs", ["a?", "b?", "a?"], source="file") == 2
    assert ws.add_queries("qs", ["b?", "c?"], source="generate") == 1
    assert ws.pool_queries("qs") == ["a?", "b?", "c?"]
    assert ws.list_pools()[0]["size"] == 3
    with pytest.raises(TailscopeError, match="no query pool 'nope'.*qs"):
        ws.pool_queries("nope")
    with pytest.raises(TailscopeError, match="no query pool"):
        ws.add_queries("nope", ["x?"], source="file")


def test_elicitation_results_are_recorded_once_per_query(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run_id = ws.create_run("elicit", {}, 0, {})
    rows = [
        {"query_idx": 1, "query": "b?", "method": "sample", "p": 0.5, "hits": 2, "k": 4},
        {"query_idx": 0, "query": "a?", "method": "sample", "p": 0.0, "hits": 0, "k": 4},
    ]
    assert ws.record_elicitations(run_id, rows) == 2
    again = [{**rows[0], "p": 0.9}]
    assert ws.record_elicitations(run_id, again) == 0  # a resumed worker never doubles it
    stored = ws.elicitations(run_id)
    assert [r["query_idx"] for r in stored] == [0, 1] and stored[1]["p"] == 0.5
    assert ws.elicited_indices(run_id) == {0, 1}
    with pytest.raises(TailscopeError, match="no run"):
        ws.record_elicitations("r-nope", rows)


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
    assert ws.get_run("r-old").status == "completed"  # old data intact
    version = ws._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version[0]) == SCHEMA_VERSION == 3
    ws.create_pool("qs")
    assert ws.add_queries("qs", ["a?"], source="file") == 1
