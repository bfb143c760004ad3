"""Guard training runs (`tailscope guard train`): classifiers fit on a guard-data run,
thresholds calibrated to a false-positive budget, saved as workspace artifacts."""

from __future__ import annotations

from tailscope.guard.train import GuardTrainConfig, execute_guard_train
from tailscope.report.blocks import esc, run_section, table
from tailscope.runs.registry import RUN_KINDS, ReportPart, RunContext, RunKind
from tailscope.store import Workspace
from tailscope.store.records import Record


class TrainedClassifier(Record):
    classifier: str
    threshold: float
    artifact: str | None = None
    calibration: dict = {}
    train: dict = {}
    test: dict | None = None
    heldout: dict | None = None


def _rate(cell: dict | None) -> str:
    if not cell or not cell.get("n"):
        return "-"
    return f"{cell['rate']:.2f} [{cell['low']:.2f}, {cell['high']:.2f}] of {cell['n']}"


@RUN_KINDS.register
class GuardTrainKind(RunKind):
    name = "guard-train"
    summary = "train guard classifiers on guard data and calibrate their thresholds"
    Config = GuardTrainConfig
    Record = TrainedClassifier
    records_key = "classifiers"
    order = 61

    def resume_hint(self, run_id: str) -> str:
        return f"tailscope guard train --resume {run_id}"

    def execute(self, ctx: RunContext) -> None:
        execute_guard_train(ctx.ws, ctx.run_id, ctx.config, ctx.seed, ctx.models, ctx.progress)

    def records(self, ws: Workspace, run_id: str) -> list[TrainedClassifier]:
        return [TrainedClassifier(**r) for r in ws.units.completed(run_id).values()]

    def report(self, ws: Workspace, runs) -> ReportPart:
        part = ReportPart()
        for run in runs:
            records = self.records(ws, run.id)
            part.overview[run.id] = f"{len(records)} guard classifiers"
            rows = [
                [
                    esc(r.classifier),
                    f"{r.threshold:.4g}",
                    esc(_rate((r.test or {}).get("tpr"))),
                    esc(_rate((r.test or {}).get("fpr"))),
                    esc(_rate((r.heldout or {}).get("tpr"))),
                    esc(_rate((r.heldout or {}).get("fpr"))),
                ]
                for r in records
            ]
            head = [
                "classifier",
                "threshold",
                "test TPR",
                "test FPR",
                "held-out TPR",
                "held-out FPR",
            ]
            part.sections.append(run_section(run, "Guard classifiers", [table(head, rows)]))
        return part
