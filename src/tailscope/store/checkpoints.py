"""Mid-unit checkpoints: the state a unit of work resumes from after a kill."""

from __future__ import annotations

import json
import sqlite3

from tailscope.store.db import Database, dumps, now_iso


def upsert_checkpoint(db: sqlite3.Connection, run_id: str, key: str, state: dict) -> None:
    """Inside the caller's transaction, so a checkpoint can commit with the work it follows."""
    db.execute(
        "INSERT INTO checkpoints (run_id, unit_key, state, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (run_id, unit_key)"
        " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        (run_id, key, dumps(state), now_iso()),
    )


class CheckpointTable:
    def __init__(self, db: Database):
        self._db = db

    def save(self, run_id: str, key: str, state: dict) -> None:
        with self._db.transaction() as db:
            upsert_checkpoint(db, run_id, key, state)

    def load(self, run_id: str, key: str) -> dict | None:
        rows = self._db.query(
            "SELECT state FROM checkpoints WHERE run_id = ? AND unit_key = ?", (run_id, key)
        )
        return json.loads(rows[0][0]) if rows else None
