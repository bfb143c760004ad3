"""The endpoint response cache and each run's endpoint usage.

A response is stored under a content address: the hash of everything that decides it
(base URL, model, API, messages, generation parameters, seed, sample index; the backend
computes it, `models/endpoint/model.py`). A resumed, repeated or extended run finds every
request it already had answered here and sends none of them again. Only answers are
stored, never errors, and never the API key (it decides nothing about the reply)."""

from __future__ import annotations

import json

from tailscope.store.db import Database, dumps, now_iso

_BATCH = 500  # keys per SELECT (SQLite's variable limit is far above it)


class ResponseTable:
    def __init__(self, db: Database):
        self._db = db

    def get_many(self, keys: list[str]) -> dict[str, str]:
        """The cached reply texts of those `keys` that have one."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _BATCH):
            chunk = unique[start : start + _BATCH]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT key, text FROM responses WHERE key IN ({marks})"
            found.update(self._db.query(sql, tuple(chunk)))
        return found

    def put_many(self, entries: list[tuple[str, str, dict]]) -> None:
        """Store (key, reply text, meta) answers in one transaction; a key already stored
        keeps its first answer."""
        if not entries:
            return
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO responses (key, text, meta, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                [(key, text, dumps(meta), now_iso()) for key, text, meta in entries],
            )

    def count(self) -> int:
        return int(self._db.query("SELECT COUNT(*) FROM responses")[0][0])

    def add_usage(self, run_id: str, role: str, model: str, usage: dict[str, int]) -> None:
        """Add one execution's counts to what the run's `role` model sent before (a resume
        adds to the first execution's)."""
        with self._db.transaction() as db:
            self._db.require_run(db, run_id)
            row = db.execute(
                "SELECT usage FROM endpoint_usage WHERE run_id = ? AND role = ?", (run_id, role)
            ).fetchone()
            total = _summed(json.loads(row[0]) if row else {}, usage)
            db.execute(
                "INSERT INTO endpoint_usage (run_id, role, model, usage) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id, role) DO UPDATE SET usage = excluded.usage",
                (run_id, role, model, dumps(total)),
            )

    def usage(self, run_id: str) -> dict[str, dict]:
        """Role -> {model, requests, retries, cache_hits, ...} of a run's endpoint models."""
        rows = self._db.query(
            "SELECT role, model, usage FROM endpoint_usage WHERE run_id = ? ORDER BY role",
            (run_id,),
        )
        return {role: {"model": model, **json.loads(usage)} for role, model, usage in rows}


def _summed(old: dict, new: dict) -> dict:
    total = dict(old)
    for name, value in new.items():
        if isinstance(value, dict):
            total[name] = _summed(old.get(name, {}), value)
        else:
            total[name] = old.get(name, 0) + value
    return total
