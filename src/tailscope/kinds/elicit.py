"""Elicitation runs (`tailscope elicit`): per-query probabilities, and their forecasts."""

from __future__ import annotations

from tailscope.elicit.session import ElicitConfig, execute_elicitation
from tailscope.report.elicitation import analyse, elicitation_section, summary_cells
from tailscope.runs.registry import RUN_KINDS, ReportPart, RunContext, RunKind
from tailscope.store import Elicitation, Workspace


@RUN_KINDS.register
class ElicitKind(RunKind):
    name = "elicit"
    summary = "the probability that one reply to each query of a pool shows a behavior"
    Config = ElicitConfig
    Record = Elicitation
    records_key = "elicitations"
    order = 10

    def execute(self, ctx: RunContext) -> None:
        execute_elicitation(
            ctx.ws, ctx.run_id, ctx.models["target"], ctx.config, ctx.seed, ctx.progress
        )

    def records(self, ws: Workspace, run_id: str) -> list[Elicitation]:
        return ws.elicitations.list(run_id)

    def report(self, ws: Workspace, runs) -> ReportPart:
        analyses = [analyse(ws, run) for run in runs]
        largest = {}  # per behavior, the run with the most queries
        for a in analyses:
            if a.label not in largest or len(a.rows) > len(largest[a.label].rows):
                largest[a.label] = a
        return ReportPart(
            summary={label: summary_cells(a) for label, a in largest.items()},
            overview={a.run.id: f"{len(a.rows)} queries" for a in analyses},
            sections=[elicitation_section(a) for a in analyses],
        )
