"""A run's items as a reviewer sees them: prompt, reply, the detector's score and verdict, and
the behavior it was scored for. Search findings, red-team cases and elicitation queries all
become the same `ReviewItem`."""

from __future__ import annotations

from dataclasses import dataclass

from tailscope.behaviors.ref import BehaviorRef
from tailscope.errors import TailscopeError
from tailscope.store import Run, Workspace

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class BehaviorInfo:
    label: str
    description: str
    detector: str  # the output detector's kind, or "target" for an exact target string
    threshold: float


@dataclass(frozen=True)
class ReviewItem:
    run_id: str
    kind: str  # finding | case | elicitation (store/records.py ItemKind)
    idx: int
    prompt: str
    reply: str
    score: float  # the detector's score (an elicitation query's p)
    flagged: bool  # the machine's verdict: behavior present
    behavior: BehaviorInfo

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.run_id, self.kind, self.idx)


def behavior_info(ref: BehaviorRef) -> BehaviorInfo:
    behavior = ref.load()
    spec = behavior.output.detector
    return BehaviorInfo(
        label=ref.label(),
        description=behavior.description,
        detector=spec.kind if spec is not None else "target",
        threshold=behavior.output.threshold or DEFAULT_THRESHOLD,
    )


def run_items(ws: Workspace, run: Run) -> list[ReviewItem]:
    """Every reviewable item of one run, in the run's own order."""
    if run.kind == "redteam":
        return _cases(ws, run)
    if run.kind == "elicit":
        return _elicitations(ws, run)
    if run.kind in ("search", "audit"):
        return _findings(ws, run)
    raise TailscopeError(
        f"run {run.id} is a {run.kind} run, which has no items to review; "
        "review search, audit, red-team or elicitation runs"
    )


def review_items(ws: Workspace, run_ids: list[str]) -> list[ReviewItem]:
    """The items of the given runs (every run in the workspace when none is given)."""
    runs = [ws.runs.get(r) for r in run_ids] if run_ids else ws.runs.list()
    return [item for run in runs if run.kind in REVIEWABLE for item in run_items(ws, run)]


REVIEWABLE = ("redteam", "elicit", "search", "audit")


def _cases(ws: Workspace, run: Run) -> list[ReviewItem]:
    info = behavior_info(BehaviorRef.model_validate(run.config["behavior"]))
    return [
        ReviewItem(run.id, "case", idx, case.test_case, case.reply, case.score, case.hit, info)
        for idx, case in enumerate(ws.redteam.cases(run.id))  # indices are 0, 1, ... per run
    ]


def _elicitations(ws: Workspace, run: Run) -> list[ReviewItem]:
    info = behavior_info(BehaviorRef.model_validate(run.config["behavior"]))
    items = []
    for e in ws.elicitations.list(run.id):
        p = e.p if e.p is not None else 0.0
        reply = e.examples[0] if e.examples else ""
        items.append(ReviewItem(run.id, "elicitation", e.query_idx, e.query, reply, p, p > 0, info))
    return items


def _findings(ws: Workspace, run: Run) -> list[ReviewItem]:
    refs = [BehaviorRef.model_validate(b) for b in run.config.get("behaviors", [])]
    infos = {ref.label(): behavior_info(ref) for ref in refs}
    items = []
    for f in ws.units.findings(run.id):
        info = infos.get(f.label) or BehaviorInfo(f.label, "", "target", DEFAULT_THRESHOLD)
        score = f.scores.get("output", {}).get(info.detector, float(f.success))
        items.append(
            ReviewItem(run.id, "finding", f.id, f.prompt, f.output, score, f.success, info)
        )
    return items
