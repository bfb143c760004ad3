"""Search runs (`tailscope search`) and the search part of an audit (`tailscope audit`)."""

from __future__ import annotations

from tailscope.report.search import overview, search_sections, search_summary
from tailscope.runs.registry import RUN_KINDS, ReportPart, RunContext, RunKind
from tailscope.search.config import SearchConfig
from tailscope.search.session import check_search, execute_search
from tailscope.store import Finding


@RUN_KINDS.register
class SearchKind(RunKind):
    name = "search"
    summary = "white-box search for prompts that elicit a behavior, each verified as text"
    Config = SearchConfig
    Record = Finding
    records_key = "findings"
    order = 0

    def prepare(self, config, models, progress) -> None:
        with progress.status("preparing behaviors (detector token tables are cached)"):
            check_search(models["target"], config)

    def execute(self, ctx: RunContext) -> None:
        execute_search(ctx.ws, ctx.run_id, ctx.models["target"], ctx.config, ctx.seed, ctx.progress)

    def records(self, ws, run_id: str) -> list[Finding]:
        return ws.units.findings(run_id)

    def report(self, ws, runs) -> ReportPart:
        findings = {run.id: ws.units.findings(run.id) for run in runs}
        return ReportPart(
            summary=search_summary([f for fs in findings.values() for f in fs]),
            overview={run_id: overview(fs) for run_id, fs in findings.items()},
            sections=search_sections(ws, runs, findings),
        )
