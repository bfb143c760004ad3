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
    other up to the busy timeout).

    A workspace comes into being with its first write: until then reads see an empty
    in-memory schema, so a command rejected for bad input leaves no directory behind. A
    workspace that cannot be written (a read-only mount, a copy from an archive) opens
    read-only: everything can be read, and a write says why it cannot happen."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / DB_NAME
        self.read_only = False
        self.in_memory = not self.path.exists()
        existing = next(p for p in (directory, *directory.absolute().parents) if p.exists())
        if not existing.is_dir():
            raise self._unwritable(OSError(0, f"{existing} is a file, not a directory"))
        if self.in_memory:
            self._conn = sqlite3.connect(":memory:", isolation_level=None)
            self._setup()
        else:
            self._open_file()

    @property
    def conn(self) -> sqlite3.Connection:
        if self.in_memory and self.path.exists():  # another process created it since
            self._switch_to_file()
        return self._conn

    def _switch_to_file(self) -> None:
        self._conn.close()
        self.in_memory = False
        self._open_file()

    def _open_file(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._unwritable(exc) from exc
        try:
            self._setup()
        except sqlite3.OperationalError as exc:
            self._conn.close()
            if not self.path.exists():
                raise self._unwritable(exc) from exc
            self._open_read_only()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise TailscopeError(
                    f"{self.path} is not a tailscope workspace database ({exc}); "
                    "pass another --workspace DIR or move the file away"
                ) from exc
            raise self._unwritable(exc) from exc

    def _open_read_only(self) -> None:
        """`mode=ro` reads a WAL database when its -shm file is there; `immutable=1` when
        the directory is read-only too (nothing can change the file then)."""
        error: sqlite3.Error | None = None
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            uri = f"{self.path.absolute().as_uri()}?{flags}"
            try:
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
                row = self._conn.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
            except sqlite3.OperationalError as exc:
                self._conn.close()
                error = exc
                continue
            self._check_version(int(row[0]) if row else 0)
            self.read_only = True
            return
        raise self._unwritable(error)

    def _unwritable(self, exc: Exception) -> TailscopeError:
        reason = getattr(exc, "strerror", None) or str(exc)
        return TailscopeError(
            f"workspace {self.directory} is not writable: {reason}; "
            "pass --workspace DIR or set TAILSCOPE_WORKSPACE"
        )

    def _setup(self) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit survives power loss too, not only a killed process.
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        with self._write() as db:
            found = migrate(db)
        self._check_version(found)

    def _check_version(self, found: int) -> None:
        if found > SCHEMA_VERSION:
            raise TailscopeError(
                f"workspace {self.directory} has schema version {found}, newer than this "
                f"tailscope understands ({SCHEMA_VERSION}); upgrade tailscope or pass "
                "another --workspace DIR"
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; the first one creates the workspace on disk."""
        if self.read_only:
            raise TailscopeError(
                f"workspace {self.directory} is read-only, so this command cannot record "
                "anything: copy it somewhere writable and pass --workspace DIR"
            )
        if self.in_memory:
            self._switch_to_file()
        with self._write() as db:
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so two writers wait on the busy
        # timeout instead of failing on a read-to-write lock upgrade.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

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
        self._conn.close()
