"""Red-team test cases, one row per target query, committed a round at a time."""

from __future__ import annotations

import json

from tailscope.store.checkpoints import upsert_checkpoint
from tailscope.store.db import Database, dumps
from tailscope.store.records import RedTeamCase

CHECKPOINT_KEY = "redteam"


class RedTeamTable:
    def __init__(self, db: Database):
        self._db = db

    def record_round(
        self, run_id: str, round_: int, cases: list[RedTeamCase], state: dict | None = None
    ) -> None:
        """Store one round's test cases and the method's state in one transaction, so a
        killed run resumes after the last whole round."""
        with self._db.transaction() as db:
            self._db.require_run(db, run_id)
            (start,) = db.execute(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM redteam_cases WHERE run_id = ?", (run_id,)
            ).fetchone()
            for offset, case in enumerate(cases):
                case = case.model_copy(update={"round": round_})
                db.execute(
                    "INSERT INTO redteam_cases (run_id, idx, round, source, test_case, reply,"
                    " score, hit, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        start + offset,
                        round_,
                        case.source,
                        case.test_case,
                        case.reply,
                        float(case.score),
                        int(case.hit),
                        dumps(case.model_dump(mode="json", exclude_defaults=True)),
                    ),
                )
            if state is not None:
                upsert_checkpoint(db, run_id, CHECKPOINT_KEY, {**state, "round": round_})
            self._db.touch_run(db, run_id)

    def cases(self, run_id: str) -> list[RedTeamCase]:
        rows = self._db.query(
            "SELECT data FROM redteam_cases WHERE run_id = ? ORDER BY idx", (run_id,)
        )
        return [RedTeamCase.model_validate(json.loads(data)) for (data,) in rows]
