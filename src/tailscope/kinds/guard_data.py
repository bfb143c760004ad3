"""Guard data runs (`tailscope guard data`): synthetic, labelled, augmented examples from a
constitution, for `tailscope guard train`."""

from __future__ import annotations

from collections import Counter

from tailscope.guard.data import GuardDataConfig, execute_guard_data
from tailscope.report.blocks import esc, run_section, table
from tailscope.runs.registry import RUN_KINDS, ReportPart, RunContext, RunKind
from tailscope.store import Workspace
from tailscope.store.guard_data import GuardExample


@RUN_KINDS.register
class GuardDataKind(RunKind):
    name = "guard-data"
    summary = "synthetic guard training data from a constitution"
    Config = GuardDataConfig
    Record = GuardExample
    records_key = "examples"
    order = 60

    def resume_hint(self, run_id: str) -> str:
        return f"tailscope guard data --resume {run_id}"

    def execute(self, ctx: RunContext) -> None:
        generator = ctx.models["generator"]
        execute_guard_data(ctx.ws, ctx.run_id, ctx.config, ctx.seed, generator, ctx.progress)

    def records(self, ws: Workspace, run_id: str) -> list[GuardExample]:
        return ws.guard_data.examples(run_id)

    def report(self, ws: Workspace, runs) -> ReportPart:
        part = ReportPart()
        for run in runs:
            examples = self.records(ws, run.id)
            counts = Counter((e.split, e.restricted) for e in examples)
            part.overview[run.id] = f"{len(examples)} guard examples"
            rows = [
                [esc(split), str(counts[(split, True)]), str(counts[(split, False)])]
                for split in ("train", "calibration", "test", "heldout")
            ]
            body = table(["split", "restricted", "permitted"], rows)
            part.sections.append(run_section(run, "Guard data", [body]))
        return part
