"""The workspace: one SQLite database that records every run as it goes.

Runs are long and get killed, so every call that records work commits before it returns
(WAL journal, `synchronous=FULL`), and a unit's result, findings and step trace go in one
transaction: after a crash a unit is either wholly there or not there at all. Several
processes may open the same workspace; writers wait on each other (busy timeout).
"""

from __future__ import annotations

import json
import platform
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from tailscope.errors import TailscopeError

DB_NAME = "workspace.db"
SCHEMA_VERSION = 3
STATUSES = ("running", "completed", "interrupted", "failed")
BUSY_TIMEOUT_S = 60.0

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

_RUN_COLUMNS = (
    "id, kind, config, seed, model, environment, status, error, progress, created_at, updated_at"
)


@dataclass(frozen=True)
class Run:
    id: str
    kind: str
    config: dict
    seed: int
    model: dict
    environment: dict
    status: str
    error: str | None
    progress: dict
    created_at: str
    updated_at: str

    def to_json(self) -> dict:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    """Software versions, recorded with a run so a result can be reproduced later.

    Read from package metadata: importing torch just to ask its version costs seconds."""
    from tailscope import __version__

    return {
        "tailscope": __version__,
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


class Workspace:
    """Runs, their units of work, findings, step traces and mid-unit checkpoints."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db_path = self.path / DB_NAME
        if self.path.exists() and not self.path.is_dir():
            raise self._unwritable(OSError(0, "it is a file, not a directory"))
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._unwritable(exc) from exc
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise TailscopeError(
                    f"{self.db_path} is not a tailscope workspace database ({exc}); "
                    "pass another --workspace DIR or move the file away"
                ) from exc
            raise self._unwritable(exc) from exc

    def _unwritable(self, exc: Exception) -> TailscopeError:
        reason = getattr(exc, "strerror", None) or str(exc)
        return TailscopeError(
            f"workspace {self.path} is not writable: {reason}; "
            "pass --workspace DIR or set TAILSCOPE_WORKSPACE"
        )

    def _setup(self) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit survives power loss too, not only a killed process.
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _migrate(self) -> None:
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise TailscopeError(
                    f"workspace {self.path} has schema version {row[0]}, newer than this "
                    f"tailscope understands ({SCHEMA_VERSION}); upgrade tailscope or pass "
                    "another --workspace DIR"
                )
            # Migrations 1 -> 2 -> 3 only add tables; nothing old changes.
            for statement in (_SCHEMA_V2 + _SCHEMA_V3).split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so two writers wait on the busy
        # timeout instead of failing on a read-to-write lock upgrade.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- runs ----------------------------------------------------------------------

    def create_run(self, kind: str, config: dict, seed: int, model: dict) -> str:
        now = _now()
        env = environment()
        for _ in range(20):
            run_id = f"r-{now:%Y%m%d-%H%M}-{secrets.token_hex(2)}"
            try:
                with self._transaction() as db:
                    db.execute(
                        "INSERT INTO runs (id, kind, config, seed, model, environment, status,"
                        " error, progress, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, 'running', NULL, '{}', ?, ?)",
                        (
                            run_id,
                            kind,
                            _dumps(config),
                            int(seed),
                            _dumps(model),
                            _dumps(env),
                            _iso(now),
                            _iso(now),
                        ),
                    )
                return run_id
            except sqlite3.IntegrityError:
                continue  # id collision within the same minute: draw another suffix
        raise RuntimeError("could not draw a unique run id")

    def get_run(self, run_id: str) -> Run:
        row = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        row = row.fetchone()
        if row is None:
            raise TailscopeError(
                f"no run {run_id!r} in workspace {self.path}; list run ids with `tailscope runs`"
            )
        return self._run(row)

    def list_runs(self, limit: int | None = None) -> list[Run]:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC"
        params: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        return [self._run(row) for row in self._conn.execute(sql, params)]

    def _run(self, row: tuple) -> Run:
        (rid, kind, config, seed, model, env, status, error, progress, created, updated) = row
        return Run(
            id=rid,
            kind=kind,
            config=json.loads(config),
            seed=seed,
            model=json.loads(model),
            environment=json.loads(env),
            status=status,
            error=error,
            progress=json.loads(progress),
            created_at=created,
            updated_at=updated,
        )

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {STATUSES}")
        self._update_run(run_id, "status = ?, error = ?", (status, error))

    def set_progress(self, run_id: str, progress: dict) -> None:
        self._update_run(run_id, "progress = ?", (_dumps(progress),))

    def set_config(self, run_id: str, config: dict) -> None:
        """Replace a run's recorded config, e.g. a red-team run given more budget."""
        self._update_run(run_id, "config = ?", (_dumps(config),))

    def _update_run(self, run_id: str, assignments: str, values: tuple) -> None:
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE runs SET {assignments}, updated_at = ? WHERE id = ?",
                (*values, _iso(_now()), run_id),
            )
            if cursor.rowcount == 0:
                self.get_run(run_id)  # raises the user-facing "no run" error

    # ---- units of work ---------------------------------------------------------------

    def complete_unit(
        self,
        run_id: str,
        unit_key: str,
        result: dict,
        findings: list[dict],
        steps: list[dict],
    ) -> bool:
        """Record a finished unit atomically. A unit already recorded is left as it was
        (a no-op returning False), so a resumed or duplicated worker never doubles it."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                self.get_run(run_id)
            now = _iso(_now())
            cursor = db.execute(
                "INSERT OR IGNORE INTO units (run_id, unit_key, result, completed_at)"
                " VALUES (?, ?, ?, ?)",
                (run_id, unit_key, _dumps(result), now),
            )
            if cursor.rowcount == 0:
                return False
            db.executemany(
                "INSERT INTO findings (run_id, unit_key, behavior, success, data)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        unit_key,
                        f.get("behavior"),
                        None if f.get("success") is None else int(bool(f["success"])),
                        _dumps(f),
                    )
                    for f in findings
                ],
            )
            db.executemany(
                "INSERT INTO steps (run_id, unit_key, data) VALUES (?, ?, ?)",
                [(run_id, unit_key, _dumps(s)) for s in steps],
            )
            db.execute(
                "DELETE FROM checkpoints WHERE run_id = ? AND unit_key = ?", (run_id, unit_key)
            )
            db.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (now, run_id))
        return True

    def completed_units(self, run_id: str) -> dict[str, dict]:
        rows = self._conn.execute(
            "SELECT unit_key, result FROM units WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return {key: json.loads(result) for key, result in rows}

    def save_checkpoint(self, run_id: str, unit_key: str, state: dict) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO checkpoints (run_id, unit_key, state, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (run_id, unit_key)"
                " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (run_id, unit_key, _dumps(state), _iso(_now())),
            )

    def load_checkpoint(self, run_id: str, unit_key: str) -> dict | None:
        row = self._conn.execute(
            "SELECT state FROM checkpoints WHERE run_id = ? AND unit_key = ?",
            (run_id, unit_key),
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def findings(self, run_id: str) -> list[dict]:
        rows = self._conn.execute(
            "SELECT id, unit_key, data FROM findings WHERE run_id = ? ORDER BY id", (run_id,)
        )
        return [{**json.loads(data), "id": fid, "unit_key": key} for fid, key, data in rows]

    def steps(self, run_id: str, unit_key: str | None = None) -> list[dict]:
        sql = "SELECT unit_key, data FROM steps WHERE run_id = ?"
        params: tuple = (run_id,)
        if unit_key is not None:
            sql += " AND unit_key = ?"
            params = (run_id, unit_key)
        rows = self._conn.execute(sql + " ORDER BY id", params)
        return [{**json.loads(data), "unit_key": key} for key, data in rows]

    # ---- query pools -------------------------------------------------------------------

    def create_pool(self, name: str, meta: dict | None = None) -> bool:
        """Create an empty pool; False (and nothing changed) if it already exists."""
        if not name or not name.strip():
            raise TailscopeError("the pool name is empty: pass --pool NAME")
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO query_pools (name, meta, created_at) VALUES (?, ?, ?)",
                (name, _dumps(meta or {}), _iso(_now())),
            )
        return cursor.rowcount == 1

    def add_queries(self, pool: str, queries: list[str], source: str) -> int:
        """Append queries not yet in the pool (exact text match), in one transaction.
        Returns how many were added; existing indices never change, so a pool only grows."""
        with self._transaction() as db:
            self._require_pool(db, pool)
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

    def pool_queries(self, pool: str) -> list[str]:
        """The pool's queries in index order (index i is the i-th element)."""
        self._require_pool(self._conn, pool)
        rows = self._conn.execute(
            "SELECT text FROM pool_queries WHERE pool = ? ORDER BY idx", (pool,)
        )
        return [text for (text,) in rows]

    def list_pools(self) -> list[dict]:
        rows = self._conn.execute(
            "SELECT p.name, p.meta, p.created_at, COUNT(q.idx) FROM query_pools p"
            " LEFT JOIN pool_queries q ON q.pool = p.name GROUP BY p.name ORDER BY p.created_at"
        )
        return [
            {"name": n, "meta": json.loads(m), "created_at": c, "size": size}
            for n, m, c, size in rows
        ]

    def _require_pool(self, db: sqlite3.Connection, pool: str) -> None:
        if not db.execute("SELECT 1 FROM query_pools WHERE name = ?", (pool,)).fetchone():
            known = [r[0] for r in db.execute("SELECT name FROM query_pools ORDER BY name")]
            raise TailscopeError(
                f"no query pool {pool!r} in workspace {self.path} (pools: "
                f"{', '.join(known) or 'none'}); create one with `tailscope queries import` "
                "or `tailscope queries generate`"
            )

    # ---- elicitation results -----------------------------------------------------------

    def record_elicitations(self, run_id: str, results: list[dict]) -> int:
        """Store per-query results of an elicitation run in one transaction (a batch).

        Each dict has query_idx, query, method and any of p, low, high, logp, hits, k;
        the whole dict is kept as data. A query already recorded is left as it was."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                self.get_run(run_id)
            added = 0
            for r in results:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO elicitations (run_id, query_idx, query, method, p,"
                    " low, high, logp, hits, k, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        int(r["query_idx"]),
                        r["query"],
                        r["method"],
                        r.get("p"),
                        r.get("low"),
                        r.get("high"),
                        r.get("logp"),
                        r.get("hits"),
                        r.get("k"),
                        _dumps(r),
                    ),
                )
                added += cursor.rowcount
            db.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (_iso(_now()), run_id))
        return added

    def elicitations(self, run_id: str) -> list[dict]:
        rows = self._conn.execute(
            "SELECT data FROM elicitations WHERE run_id = ? ORDER BY query_idx", (run_id,)
        )
        return [json.loads(data) for (data,) in rows]

    def elicited_indices(self, run_id: str) -> set[int]:
        rows = self._conn.execute("SELECT query_idx FROM elicitations WHERE run_id = ?", (run_id,))
        return {idx for (idx,) in rows}

    # ---- red-team test cases -----------------------------------------------------------

    def record_redteam_round(
        self, run_id: str, round_: int, cases: list[dict], state: dict | None = None
    ) -> None:
        """Store one round's test cases and the method's state in one transaction, so a
        killed run resumes after the last whole round. Each case dict has test_case,
        reply, score, hit and source; the whole dict is kept as data."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                self.get_run(run_id)
            (start,) = db.execute(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM redteam_cases WHERE run_id = ?", (run_id,)
            ).fetchone()
            for offset, case in enumerate(cases):
                db.execute(
                    "INSERT INTO redteam_cases (run_id, idx, round, source, test_case, reply,"
                    " score, hit, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        start + offset,
                        round_,
                        case["source"],
                        case["test_case"],
                        case["reply"],
                        float(case["score"]),
                        int(bool(case["hit"])),
                        _dumps({**case, "round": round_}),
                    ),
                )
            if state is not None:
                db.execute(
                    "INSERT INTO checkpoints (run_id, unit_key, state, updated_at)"
                    " VALUES (?, 'redteam', ?, ?) ON CONFLICT (run_id, unit_key)"
                    " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                    (run_id, _dumps({**state, "round": round_}), _iso(_now())),
                )
            db.execute("UPDATE runs SET updated_at = ? WHERE id = ?", (_iso(_now()), run_id))

    def redteam_cases(self, run_id: str) -> list[dict]:
        rows = self._conn.execute(
            "SELECT data FROM redteam_cases WHERE run_id = ? ORDER BY idx", (run_id,)
        )
        return [json.loads(data) for (data,) in rows]

    def artifact_dir(self, run_id: str, name: str) -> Path:
        """Where a run keeps files too large for the database (e.g. trained adapters)."""
        return self.path / "artifacts" / run_id / name
