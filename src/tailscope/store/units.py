"""Units of work of search runs, each committed whole with its findings and step trace."""

from __future__ import annotations

import json

from tailscope.store.db import Database, dumps, now_iso
from tailscope.store.records import Finding


class UnitTable:
    """A unit (one restart on one behavior) is either wholly recorded or not at all."""

    def __init__(self, db: Database):
        self._db = db

    def complete(
        self,
        run_id: str,
        unit_key: str,
        result: dict,
        findings: list[Finding] = (),
        steps: list[dict] = (),
    ) -> bool:
        """Record a finished unit atomically and drop its checkpoint. A unit already recorded
        is left as it was (False), so a resumed or duplicated worker never doubles it."""
        with self._db.transaction() as db:
            self._db.require_run(db, run_id)
            cursor = db.execute(
                "INSERT OR IGNORE INTO units (run_id, unit_key, result, completed_at)"
                " VALUES (?, ?, ?, ?)",
                (run_id, unit_key, dumps(result), now_iso()),
            )
            if cursor.rowcount == 0:
                return False
            db.executemany(
                "INSERT INTO findings (run_id, unit_key, behavior, success, data)"
                " VALUES (?, ?, ?, ?, ?)",
                [(run_id, unit_key, f.behavior, int(f.success), dumps(_data(f))) for f in findings],
            )
            db.executemany(
                "INSERT INTO steps (run_id, unit_key, data) VALUES (?, ?, ?)",
                [(run_id, unit_key, dumps(s)) for s in steps],
            )
            db.execute(
                "DELETE FROM checkpoints WHERE run_id = ? AND unit_key = ?", (run_id, unit_key)
            )
            self._db.touch_run(db, run_id)
        return True

    def completed(self, run_id: str) -> dict[str, dict]:
        """unit key → its result, in completion order."""
        rows = self._db.query(
            "SELECT unit_key, result FROM units WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return {key: json.loads(result) for key, result in rows}

    def findings(self, run_id: str) -> list[Finding]:
        rows = self._db.query(
            "SELECT id, unit_key, data FROM findings WHERE run_id = ? ORDER BY id", (run_id,)
        )
        return [
            Finding.model_validate({**json.loads(data), "id": fid, "unit_key": key})
            for fid, key, data in rows
        ]

    def steps(self, run_id: str, unit_key: str | None = None) -> list[dict]:
        sql, params = "SELECT unit_key, data FROM steps WHERE run_id = ?", (run_id,)
        if unit_key is not None:
            sql, params = sql + " AND unit_key = ?", (run_id, unit_key)
        rows = self._db.query(sql + " ORDER BY id", params)
        return [{**json.loads(data), "unit_key": key} for key, data in rows]


def _data(finding: Finding) -> dict:
    return finding.model_dump(mode="json", exclude={"id", "unit_key"})
