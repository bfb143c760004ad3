"""Run kinds: what a kind of run is configured by, how it executes, what it records and how
the report shows it. Each kind is one module in `tailscope/kinds/` (or a plugin) with a
`RunKind` subclass decorated `@RUN_KINDS.register`; the run layer (`runs/execute.py`) and
the report find it here by the name every run records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tailscope.registry import Registry
from tailscope.runs.config import RunConfig
from tailscope.runs.progress import Progress

if TYPE_CHECKING:
    from tailscope.models.base import LanguageModel
    from tailscope.store import Run, Workspace


@dataclass
class RunContext:
    """What an executing run may use."""

    ws: Workspace
    run_id: str
    config: RunConfig
    seed: int
    models: dict[str, LanguageModel]  # by role, e.g. target, attacker
    progress: Progress = field(default_factory=Progress)


class RunKind(ABC):
    name: str
    summary: str  # one line for `--help`
    Config: type[RunConfig]
    Record: type  # the typed record (store/records.py) its runs produce
    records_key: str = "records"  # what `show --json` calls them
    order: int = 100

    def resume_hint(self, run_id: str) -> str:
        """The command that continues an interrupted run of this kind."""
        return f"tailscope {self.name} --resume {run_id}"

    def prepare(self, config: RunConfig, models: dict, progress: Progress) -> None:
        """Checks that need the loaded models, before the run is recorded."""

    @abstractmethod
    def execute(self, ctx: RunContext) -> None:
        """Do (or continue) the run's work, committing it to `ctx.ws` as it goes. Status
        transitions, Ctrl-C and errors are the run layer's."""

    @abstractmethod
    def records(self, ws: Workspace, run_id: str) -> list:
        """The run's records, in order."""

    def report(self, ws: Workspace, runs: list[Run]) -> ReportPart:
        """What the report shows of these runs of this kind (HTML, everything escaped)."""
        return ReportPart()


@dataclass
class ReportPart:
    """A kind's share of the report, computed once for all its runs in it."""

    # behavior label -> column -> cell: the report's opening table, one row per behavior
    summary: dict[str, dict[str, str]] = field(default_factory=dict)
    # run id -> a few words on what the run holds, for the table of runs
    overview: dict[str, str] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)


RUN_KINDS: Registry[type[RunKind]] = Registry("run kind", packages=["tailscope.kinds"])


def run_kind(name: str) -> RunKind:
    return RUN_KINDS.get(name)()
