"""The evaluation set of a workspace run, ready for `forecast`, `backtest` and `plan`: an
elicitation run's per-query probabilities, or a red-team run's test cases with their
detector scores (forecast/data.py says what p is for each)."""

from __future__ import annotations

from dataclasses import dataclass

from tailscope.errors import TailscopeError
from tailscope.forecast.data import Observations, elicitation_observations, redteam_observations
from tailscope.store import Workspace

REDTEAM_P = "p = the detector's score of the target's reply to each red-team test case"


@dataclass
class EvaluationSet:
    observations: Observations
    queries: list[str] | None  # in observation order, for the missed-mode checks
    kind: str  # the run's kind, or "file"
    p_means: str | None = None  # what p is, where it is not an elicitation probability


def run_evaluation_set(ws: Workspace, run_id: str) -> EvaluationSet:
    run = ws.runs.get(run_id)
    if run.kind == "redteam":
        cases = ws.redteam.cases(run_id)
        _require(cases, run_id, "test cases", "redteam")
        queries = [c.test_case for c in cases]
        return EvaluationSet(redteam_observations(cases), queries, run.kind, REDTEAM_P)
    if run.kind == "elicit":
        rows = ws.elicitations.list(run_id)
        _require(rows, run_id, "elicitation results", "elicit")
        return EvaluationSet(elicitation_observations(rows), [r.query for r in rows], run.kind)
    raise TailscopeError(
        f"run {run_id} is a {run.kind} run: pass the id of an elicitation run (`tailscope "
        "elicit`) or a red-team run (`tailscope redteam`), or --input FILE with a column p"
    )


def _require(records: list, run_id: str, what: str, command: str) -> None:
    if not records:
        raise TailscopeError(
            f"run {run_id} has no {what} yet: finish it with "
            f"`tailscope {command} --resume {run_id}`"
        )
