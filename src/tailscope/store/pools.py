"""Query pools: named, append-only, deduplicated, index-stable lists of queries."""

from __future__ import annotations

import json
import sqlite3

from tailscope.errors import TailscopeError
from tailscope.store.db import Database, dumps, now_iso
from tailscope.store.records import Pool


class PoolTable:
    def __init__(self, db: Database):
        self._db = db

    def create(self, name: str, meta: dict | None = None) -> bool:
        """Create an empty pool; False (and nothing changed) if it already exists."""
        if not name or not name.strip():
            raise TailscopeError("the pool name is empty: pass --pool NAME")
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO query_pools (name, meta, created_at) VALUES (?, ?, ?)",
                (name, dumps(meta or {}), now_iso()),
            )
        return cursor.rowcount == 1

    def add(self, pool: str, queries: list[str], source: str) -> int:
        """Append queries not yet in the pool (exact text match), in one transaction.
        Returns how many were added; existing indices never change, so a pool only grows."""
        with self._db.transaction() as db:
            self._require(db, pool)
            (start,) = db.execute(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM pool_queries WHERE pool = ?", (pool,)
            ).fetchone()
            added = 0
            for text in queries:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO pool_queries (pool, idx, text, source)"
                    " VALUES (?, ?, ?, ?)",
                    (pool, start + added, text, source),
                )
                added += cursor.rowcount
        return added

    def queries(self, pool: str) -> list[str]:
        """The pool's queries in index order (index i is the i-th element)."""
        self._require(self._db.conn, pool)
        rows = self._db.query("SELECT text FROM pool_queries WHERE pool = ? ORDER BY idx", (pool,))
        return [text for (text,) in rows]

    def sources(self, pool: str) -> set[str]:
        """The distinct `source` tags of the pool's queries (where each came from)."""
        self._require(self._db.conn, pool)
        rows = self._db.query("SELECT DISTINCT source FROM pool_queries WHERE pool = ?", (pool,))
        return {source for (source,) in rows}

    def list(self) -> list[Pool]:
        rows = self._db.query(
            "SELECT p.name, p.meta, p.created_at, COUNT(q.idx) FROM query_pools p"
            " LEFT JOIN pool_queries q ON q.pool = p.name GROUP BY p.name ORDER BY p.created_at"
        )
        return [Pool(name=n, meta=json.loads(m), created_at=c, size=size) for n, m, c, size in rows]

    def _require(self, db: sqlite3.Connection, pool: str) -> None:
        if not db.execute("SELECT 1 FROM query_pools WHERE name = ?", (pool,)).fetchone():
            known = [r[0] for r in db.execute("SELECT name FROM query_pools ORDER BY name")]
            raise TailscopeError(
                f"no query pool {pool!r} in workspace {self._db.directory} (pools: "
                f"{', '.join(known) or 'none'}); create one with `tailscope queries import` "
                "or `tailscope queries generate`"
            )
