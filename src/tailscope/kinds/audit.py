"""The search part of an audit: recorded as kind `audit`, with the suite's sizes, so that
`tailscope audit --resume` finds it and its elicitation and red-team runs (`recipes/audit.py`).

On a target without white-box access (an endpoint) there is no search: the run is recorded
with no findings and says that it skipped white-box search, and the audit goes on with its
black-box part."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tailscope.kinds.search import SearchKind
from tailscope.models.base import Capability
from tailscope.models.registry import backend, parse_model_spec
from tailscope.runs.config import ModelNeed
from tailscope.runs.registry import RUN_KINDS, RunContext
from tailscope.search.config import SearchConfig


def offers(model: str, capability: Capability) -> bool:
    """Whether model spec `model` declares `capability` (nothing is loaded to know)."""
    spec = parse_model_spec(model)
    return capability in backend(spec.backend).capabilities_of(spec)


def white_box_skipped(model: str) -> str:
    return (
        f"white-box search skipped: model {model!r} has no white-box access (tokenizer, "
        "embeddings, gradients); the audit runs its black-box part only (sampled "
        "elicitation and red teaming)"
    )


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

    def model_needs(self) -> dict[str, ModelNeed]:
        if offers(self.model, Capability.WHITE_BOX):
            return super().model_needs()
        return {"target": ModelNeed(self.model, frozenset({Capability.GENERATE}), "an audit")}


@RUN_KINDS.register
class AuditKind(SearchKind):
    name = "audit"
    summary = "the default suite: search, elicitation and forecast, red teaming, one report"
    Config = AuditConfig
    order = 5

    def prepare(self, config, models, progress) -> None:
        if Capability.WHITE_BOX in models["target"].capabilities:
            super().prepare(config, models, progress)

    def execute(self, ctx: RunContext) -> None:
        if Capability.WHITE_BOX in ctx.models["target"].capabilities:
            return super().execute(ctx)
        note = white_box_skipped(ctx.config.model)
        ctx.ws.runs.set_progress(ctx.run_id, {"units_done": 0, "units_total": 0, "skipped": note})
        ctx.progress.note(note)
