"""The runs table: one row per recorded execution, its status and progress."""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import sqlite3
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from tailscope.store.db import Database, dumps, now_iso
from tailscope.store.records import STATUSES, Run

_COLUMNS = (
    "id, kind, config, seed, model, environment, status, error, progress, created_at, updated_at"
)


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


def _start_ticks(pid: int) -> int | None:
    """When process `pid` started (Linux clock ticks since boot), so a recycled pid is not
    taken for the run's process; None where /proc is not there or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def owner_process() -> dict:
    """The process that runs a run now, recorded so a reader can tell when it is gone."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "start": _start_ticks(pid)}


def process_gone(process: dict | None) -> bool:
    """True when the recorded process is known to be dead (same host, pid gone or reused)."""
    if not process or process.get("host") != socket.gethostname():
        return False
    pid = int(process["pid"])
    start = _start_ticks(pid)
    if start is not None:
        return process.get("start") is not None and start != process["start"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class RunTable:
    def __init__(self, db: Database):
        self._db = db

    def create(self, kind: str, config: dict, seed: int, model: dict) -> str:
        """A new run in status running; returns its id (r-YYYYMMDD-HHMM-xxxx)."""
        moment = datetime.now(UTC)
        created = moment.isoformat(timespec="seconds")
        env = {**environment(), "process": owner_process()}
        values = (kind, dumps(config), int(seed), dumps(model), dumps(env))
        for _ in range(20):
            run_id = f"r-{moment:%Y%m%d-%H%M}-{secrets.token_hex(2)}"
            try:
                with self._db.transaction() as db:
                    db.execute(
                        f"INSERT INTO runs ({_COLUMNS}) VALUES"
                        " (?, ?, ?, ?, ?, ?, 'running', NULL, '{}', ?, ?)",
                        (run_id, *values, created, created),
                    )
                return run_id
            except sqlite3.IntegrityError:
                continue  # id collision within the same minute: draw another suffix
        raise RuntimeError("could not draw a unique run id")

    def get(self, run_id: str) -> Run:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise self._db.no_run(run_id)
        return _run(rows[0])

    def list(self, limit: int | None = None) -> list[Run]:
        sql = f"SELECT {_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            return [_run(r) for r in self._db.query(sql + " LIMIT ?", (int(limit),))]
        return [_run(r) for r in self._db.query(sql)]

    def children(self, parent: str, kind: str) -> list[Run]:
        """Runs of `kind` whose config names `parent` (an audit's elicitation runs)."""
        return [r for r in self.list() if r.kind == kind and r.config.get("parent") == parent]

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {STATUSES}")
        if status == "running":  # a resume: this process owns the run now
            env = {**self.get(run_id).environment, "process": owner_process()}
            self._update(
                run_id, "status = ?, error = ?, environment = ?", (status, error, dumps(env))
            )
        else:
            self._update(run_id, "status = ?, error = ?", (status, error))

    def set_progress(self, run_id: str, progress: dict) -> None:
        self._update(run_id, "progress = ?", (dumps(progress),))

    def set_config(self, run_id: str, config: dict) -> None:
        """Replace a run's recorded config, e.g. a red-team run given more budget."""
        self._update(run_id, "config = ?", (dumps(config),))

    def _update(self, run_id: str, assignments: str, values: tuple) -> None:
        with self._db.transaction() as db:
            cursor = db.execute(
                f"UPDATE runs SET {assignments}, updated_at = ? WHERE id = ?",
                (*values, now_iso(), run_id),
            )
            if cursor.rowcount == 0:
                raise self._db.no_run(run_id)


def _run(row: tuple) -> Run:
    """A run as recorded, except that a "running" run whose process is gone (killed with
    SIGKILL, or its machine lost power) reads as interrupted: that is what it is."""
    (rid, kind, config, seed, model, env, status, error, progress, created, updated) = row
    environment = json.loads(env)
    process = environment.get("process")
    if status == "running" and process_gone(process):
        status = "interrupted"
        error = f"its process (pid {process['pid']}) ended without finishing the run"
    return Run(
        id=rid,
        kind=kind,
        config=json.loads(config),
        seed=seed,
        model=json.loads(model),
        environment=environment,
        status=status,
        error=error,
        progress=json.loads(progress),
        created_at=created,
        updated_at=updated,
    )
