"""The search part of an audit: recorded as kind `audit`, with the suite's sizes, so that
`tailscope audit --resume` finds it and its elicitation and red-team runs (`recipes/audit.py`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tailscope.kinds.search import SearchKind
from tailscope.runs.registry import RUN_KINDS
from tailscope.search.config import SearchConfig


class AuditSuite(BaseModel):
    """How much the audit does after its search."""

    model_config = ConfigDict(extra="forbid")
    quick: bool = True
    elicit_queries: int | None = Field(None, ge=1)  # per behavior [default: by quick]
    redteam_budget: int | None = Field(None, ge=1)  # target queries per red-team run


class AuditConfig(SearchConfig):
    # None in audits recorded before the suite was: quick then means one restart.
    suite: AuditSuite | None = None

    def resolved_suite(self) -> AuditSuite:
        return self.suite or AuditSuite(quick=self.settings.restarts == 1)


@RUN_KINDS.register
class AuditKind(SearchKind):
    name = "audit"
    summary = "the default suite: search, elicitation and forecast, red teaming, one report"
    Config = AuditConfig
    order = 5
