"""Per-query elicitation results, committed a chunk at a time, once per query."""

from __future__ import annotations

import json

from tailscope.store.db import Database, dumps
from tailscope.store.records import Elicitation


class ElicitationTable:
    def __init__(self, db: Database):
        self._db = db

    def record(self, run_id: str, rows: list[Elicitation]) -> int:
        """Store a batch in one transaction; a query already recorded is left as it was.
        Returns how many were added."""
        with self._db.transaction() as db:
            self._db.require_run(db, run_id)
            added = 0
            for r in rows:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO elicitations (run_id, query_idx, query, method, p,"
                    " low, high, logp, hits, k, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        r.query_idx,
                        r.query,
                        r.method,
                        r.p,
                        r.low,
                        r.high,
                        r.logp,
                        r.hits,
                        r.k,
                        dumps(r.model_dump(mode="json", exclude_defaults=True)),
                    ),
                )
                added += cursor.rowcount
            self._db.touch_run(db, run_id)
        return added

    def list(self, run_id: str) -> list[Elicitation]:
        rows = self._db.query(
            "SELECT data FROM elicitations WHERE run_id = ? ORDER BY query_idx", (run_id,)
        )
        return [Elicitation.model_validate(json.loads(data)) for (data,) in rows]

    def indices(self, run_id: str) -> set[int]:
        rows = self._db.query("SELECT query_idx FROM elicitations WHERE run_id = ?", (run_id,))
        return {idx for (idx,) in rows}
