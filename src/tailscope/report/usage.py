"""What each run sent to its endpoint models (requests, retries by reason, replies from the
workspace cache): the cost side of a black-box audit, beside its results."""

from __future__ import annotations

from tailscope.report.blocks import esc, table
from tailscope.store import Run, Workspace


def usage_rows(workspace: Workspace, runs: list[Run]) -> list[list[str]]:
    """[run, role, model, requests, retries, cache hits] per endpoint model, as text."""
    rows = []
    for run in runs:
        for role, usage in workspace.responses.usage(run.id).items():
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(usage["retry_reasons"].items()))
            retries = f"{usage['retries']} ({reasons})" if reasons else str(usage["retries"])
            rows.append(
                [
                    run.id,
                    role,
                    usage["model"],
                    str(usage["requests"]),
                    retries,
                    str(usage["cache_hits"]),
                ]
            )
    return rows


def usage_section(workspace: Workspace, runs: list[Run]) -> str:
    """The report's table of endpoint requests; empty where no run used an endpoint."""
    rows = usage_rows(workspace, runs)
    if not rows:
        return ""
    head = ["run", "role", "model", "requests", "retries", "replies from the cache"]
    return "<h2>Endpoint requests</h2>" + table(head, [[esc(v) for v in row] for row in rows])
