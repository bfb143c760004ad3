"""The workspace schema and its in-place migrations.

Version 1: runs, units of work, findings, step traces, checkpoints. Version 2 adds query
pools and per-query elicitation results; version 3 adds red-team test cases; version 4 adds
human labels of a run's items; version 5 adds the endpoint response cache and each run's
endpoint usage. Each step only adds tables, so every older workspace opens
unchanged and gains the empty new ones.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    model TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    progress TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS units (
    run_id TEXT NOT NULL REFERENCES runs(id),
    unit_key TEXT NOT NULL,
    result TEXT NOT NULL,
    completed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, unit_key)
);
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id),
    unit_key TEXT NOT NULL,
    behavior TEXT,
    success INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_run ON findings (run_id, id);
CREATE INDEX IF NOT EXISTS findings_behavior ON findings (behavior, success);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id),
    unit_key TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_run_unit ON steps (run_id, unit_key, id);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT NOT NULL REFERENCES runs(id),
    unit_key TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, unit_key)
);
"""

# Version 2: query pools and per-query elicitation results. Version 1 databases gain the
# new (empty) tables; nothing old changes.
_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS query_pools (
    name TEXT PRIMARY KEY,
    meta TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pool_queries (
    pool TEXT NOT NULL REFERENCES query_pools(name),
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (pool, idx),
    UNIQUE (pool, text)
);
CREATE TABLE IF NOT EXISTS elicitations (
    run_id TEXT NOT NULL REFERENCES runs(id),
    query_idx INTEGER NOT NULL,
    query TEXT NOT NULL,
    method TEXT NOT NULL,
    p REAL,
    low REAL,
    high REAL,
    logp REAL,
    hits INTEGER,
    k INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, query_idx)
);
"""

# Version 3: red-team test cases, one row per target query, committed per round.
_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS redteam_cases (
    run_id TEXT NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    round INTEGER NOT NULL,
    source TEXT NOT NULL,
    test_case TEXT NOT NULL,
    reply TEXT NOT NULL,
    score REAL NOT NULL,
    hit INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS redteam_cases_round ON redteam_cases (run_id, round);
"""

# Version 4: human labels, one per labeller per item of a run (see store/labels.py).
_SCHEMA_V4 = """
CREATE TABLE IF NOT EXISTS labels (
    run_id TEXT NOT NULL REFERENCES runs(id),
    item_kind TEXT NOT NULL,
    item_idx INTEGER NOT NULL,
    labeller TEXT NOT NULL,
    label TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, item_kind, item_idx, labeller)
);
"""

# Version 5: answered endpoint requests, content-addressed (see store/responses.py), and
# what each run's endpoint models sent (requests, retries, cache hits), summed over resumes.
_SCHEMA_V5 = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    meta TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoint_usage (
    run_id TEXT NOT NULL REFERENCES runs(id),
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    usage TEXT NOT NULL,
    PRIMARY KEY (run_id, role)
);
"""


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION inside the caller's transaction; returns the version
    found. A newer version than this code knows is left untouched for the caller to refuse."""
    _run_script(db, _SCHEMA)
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    found = int(row[0]) if row is not None else 0
    if found > SCHEMA_VERSION:
        return found
    _run_script(db, _SCHEMA_V2 + _SCHEMA_V3 + _SCHEMA_V4 + _SCHEMA_V5)
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )
    return found


def _run_script(db: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)
