"""Workspaces filled directly through the store API for the review tests: red-team runs
whose cases a person can label, with no model anywhere."""

from __future__ import annotations

from pathlib import Path

from tailscope.store import RedTeamCase, Workspace

BEHAVIOR = {"name": "offensive-replies"}


def redteam_run(ws: Workspace, replies: list[str], scores: list[float] | None = None) -> str:
    """A red-team run of offensive-replies with one case per reply; a case is a hit where its
    score reaches the behavior's threshold (0.5)."""
    scores = (
        scores
        if scores is not None
        else [i / max(len(replies) - 1, 1) for i in range(len(replies))]
    )
    run_id = ws.runs.create("redteam", {"behavior": BEHAVIOR}, 0, {"name": "test"})
    cases = [
        RedTeamCase(test_case=f"question {i}?", reply=reply, score=s, hit=s >= 0.5, source="test")
        for i, (reply, s) in enumerate(zip(replies, scores, strict=True))
    ]
    ws.redteam.record_round(run_id, 0, cases)
    return run_id


def filled_workspace(path: Path, count: int = 12) -> tuple[Workspace, str]:
    ws = Workspace(path)
    return ws, redteam_run(ws, [f"reply number {i}" for i in range(count)])
