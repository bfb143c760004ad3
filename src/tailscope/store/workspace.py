"""The workspace: one SQLite database that records every run as it goes, split by table
group behind one connection (`ws.runs`, `ws.units`, `ws.checkpoints`, `ws.pools`,
`ws.elicitations`, `ws.redteam`, `ws.labels`, `ws.guard_data`), plus a directory for files
too large for the database."""

from __future__ import annotations

from pathlib import Path

from tailscope.store.checkpoints import CheckpointTable
from tailscope.store.db import Database
from tailscope.store.elicitations import ElicitationTable
from tailscope.store.guard_data import GuardDataTable
from tailscope.store.labels import LabelTable
from tailscope.store.pools import PoolTable
from tailscope.store.redteam import RedTeamTable
from tailscope.store.responses import ResponseTable
from tailscope.store.runs import RunTable
from tailscope.store.units import UnitTable


class Workspace:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = Database(self.path)
        self.runs = RunTable(self.db)
        self.units = UnitTable(self.db)
        self.checkpoints = CheckpointTable(self.db)
        self.pools = PoolTable(self.db)
        self.elicitations = ElicitationTable(self.db)
        self.redteam = RedTeamTable(self.db)
        self.labels = LabelTable(self.db)
        self.responses = ResponseTable(self.db)  # endpoint replies, content-addressed
        self.guard_data = GuardDataTable(self.db)

    def artifact_dir(self, run_id: str, name: str) -> Path:
        """Where a run keeps files too large for the database (e.g. trained adapters)."""
        return self.path / "artifacts" / run_id / name

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
