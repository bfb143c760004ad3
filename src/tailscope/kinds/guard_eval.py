"""Guard evaluation runs (`tailscope guard eval`): the guarded target against the unguarded
one on static and adaptive attacks, false refusals and overhead (guard/evaluate.py)."""

from __future__ import annotations

from tailscope.guard.eval_summary import summarize
from tailscope.guard.evaluate import (
    BatchTiming,
    EvalItem,
    GuardEvalConfig,
    adaptive_results,
    execute_guard_eval,
)
from tailscope.report.guard import guard_eval_overview, guard_eval_section
from tailscope.runs.registry import RUN_KINDS, ReportPart, RunContext, RunKind
from tailscope.store import Workspace


def eval_summary(ws: Workspace, run_id: str) -> dict:
    results = ws.units.completed(run_id)
    items = [EvalItem(**raw) for unit in results.values() for raw in unit.get("items", [])]
    timings = [BatchTiming(**unit["timing"]) for unit in results.values() if "timing" in unit]
    adaptive = adaptive_results(ws, run_id, ws.runs.get(run_id).config)
    return summarize(items, timings, adaptive)


@RUN_KINDS.register
class GuardEvalKind(RunKind):
    name = "guard-eval"
    summary = "a guarded target against the unguarded one: attacks, false refusals, overhead"
    Config = GuardEvalConfig
    Record = EvalItem
    records_key = "items"
    order = 62

    def resume_hint(self, run_id: str) -> str:
        return f"tailscope guard eval --resume {run_id}"

    def execute(self, ctx: RunContext) -> None:
        execute_guard_eval(ctx)

    def records(self, ws: Workspace, run_id: str) -> list[EvalItem]:
        results = ws.units.completed(run_id)
        return [EvalItem(**raw) for unit in results.values() for raw in unit.get("items", [])]

    def report(self, ws: Workspace, runs) -> ReportPart:
        part = ReportPart()
        for run in runs:
            summary = eval_summary(ws, run.id)
            part.overview[run.id] = guard_eval_overview(summary)
            part.sections.append(guard_eval_section(run, summary, self.records(ws, run.id)))
        return part
