"""The workspace's one SQLite connection: WAL journal, durable commits, write transactions
and the schema migrations. Every table group (`store/*.py`) shares it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tailscope.errors import TailscopeError
from tailscope.store.schema import SCHEMA_VERSION, migrate

DB_NAME = "workspace.db"
BUSY_TIMEOUT_S = 60.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


class Database:
    """Runs are long and get killed, so every write commits before it returns
    (`synchronous=FULL`), and several processes may share the file (writers wait on each
    other up to the busy timeout)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / DB_NAME
        if directory.exists() and not directory.is_dir():
            raise self._unwritable(OSError(0, "it is a file, not a directory"))
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._unwritable(exc) from exc
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise TailscopeError(
                    f"{self.path} is not a tailscope workspace database ({exc}); "
                    "pass another --workspace DIR or move the file away"
                ) from exc
            raise self._unwritable(exc) from exc

    def _unwritable(self, exc: Exception) -> TailscopeError:
        reason = getattr(exc, "strerror", None) or str(exc)
        return TailscopeError(
            f"workspace {self.directory} is not writable: {reason}; "
            "pass --workspace DIR or set TAILSCOPE_WORKSPACE"
        )

    def _setup(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit survives power loss too, not only a killed process.
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        with self.transaction() as db:
            found = migrate(db)
        if found > SCHEMA_VERSION:
            raise TailscopeError(
                f"workspace {self.directory} has schema version {found}, newer than this "
                f"tailscope understands ({SCHEMA_VERSION}); upgrade tailscope or pass "
                "another --workspace DIR"
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so two writers wait on the busy
        # timeout instead of failing on a read-to-write lock upgrade.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def require_run(self, db: sqlite3.Connection, run_id: str) -> None:
        """Inside a transaction that records a run's work: the run must exist."""
        if not db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
            raise self.no_run(run_id)

    @staticmethod
    def touch_run(db: sqlite3.Connection, run_id: str) -> None:
        """Inside such a transaction: the run's work changed now."""
        db.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (now_iso(), run_id))

    def no_run(self, run_id: str) -> TailscopeError:
        return TailscopeError(
            f"no run {run_id!r} in workspace {self.directory}; list run ids with `tailscope runs`"
        )

    def close(self) -> None:
        self.conn.close()
