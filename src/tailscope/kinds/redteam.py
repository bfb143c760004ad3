"""Red-team runs (`tailscope redteam`): an attacker LM's test cases against the target."""

from __future__ import annotations

from tailscope.redteam.session import RedTeamConfig, execute_redteam
from tailscope.report.redteam import analyse, overview, redteam_sections, summary_cells
from tailscope.runs.registry import RUN_KINDS, ReportPart, RunContext, RunKind
from tailscope.store import RedTeamCase, Workspace


@RUN_KINDS.register
class RedTeamKind(RunKind):
    name = "redteam"
    summary = "black-box red teaming with an attacker LM"
    Config = RedTeamConfig
    Record = RedTeamCase
    records_key = "cases"
    order = 20

    def execute(self, ctx: RunContext) -> None:
        models = ctx.models
        execute_redteam(
            ctx.ws,
            ctx.run_id,
            ctx.config,
            ctx.seed,
            models["target"],
            models["attacker"],
            ctx.progress,
        )

    def records(self, ws: Workspace, run_id: str) -> list[RedTeamCase]:
        return ws.redteam.cases(run_id)

    def report(self, ws: Workspace, runs) -> ReportPart:
        analyses = [analyse(ws, run) for run in runs]
        return ReportPart(
            summary=summary_cells(analyses),
            overview={a.run.id: overview(a) for a in analyses},
            sections=redteam_sections(analyses),
        )
