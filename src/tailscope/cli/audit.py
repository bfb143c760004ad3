"""`tailscope audit`: the main job, the default suite (`recipes/audit.py`) with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tailscope.cli.common import (
    ModelOpt,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    open_workspace,
    refuse_with_resume,
    say,
)
from tailscope.cli.search import CandidateConstraints
from tailscope.cli.tables import print_findings, print_forecast, print_redteam_summary
from tailscope.errors import TailscopeError
from tailscope.models.registry import DEFAULT_MODEL


def audit(
    ctx: typer.Context,
    model: ModelOpt = DEFAULT_MODEL,
    quick: Annotated[
        bool, typer.Option(help="Small budgets: the whole audit takes minutes on 2 CPU cores.")
    ] = False,
    seed: SeedOpt = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML report to write.")] = Path(
        "report.html"
    ),
    seconds: Annotated[
        float | None, typer.Option(help="Wall-clock budget per search restart.")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Step budget per search restart (same on any machine).")
    ] = None,
    queries: Annotated[
        int | None,
        typer.Option(help="Elicitation queries per behavior [default: 200/24 quick, 2000/500]."),
    ] = None,
    budget: Annotated[
        int | None, typer.Option(help="Target queries per red-team run [default: 32 quick, 200].")
    ] = None,
    candidate_constraints: CandidateConstraints = False,
    resume: Annotated[str | None, typer.Option(help="Continue the audit run RUN_ID.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """The main job: search the default behavior suite with ARCA, elicit and forecast each
    behavior on a built-in query pool, red-team it with an attacker LM (the target itself),
    and write an HTML report that opens with a summary per behavior.

    The suite: toxic-from-benign, french-to-english and a few `say` targets.
    """
    from tailscope.recipes.audit import audit_config, run_audit
    from tailscope.report import write_report
    from tailscope.runs.execute import resumable

    ws = open_workspace(workspace)
    if resume:
        refuse_with_resume(ctx, "output")
        run, config = resumable(ws, resume, ("audit",))
        seed = run.seed
    else:
        config = audit_config(model, quick, seconds, steps, queries, budget, candidate_constraints)
    runs = run_audit(
        ws, config, seed, resume=resume, progress=RichProgress(), on_done=_printer(ws, seed)
    )
    path = write_report(ws, runs.all(), output)
    say(f"report written to {path}", to_stdout=True)


def _printer(ws, seed: int):
    """What the audit prints as each of its runs finishes."""

    def print_run(kind: str, run_id: str) -> None:
        from tailscope.behaviors.ref import BehaviorRef
        from tailscope.forecast.forecast import forecast
        from tailscope.forecast.sources import run_evaluation_set
        from tailscope.recipes.audit import DEPLOY_N
        from tailscope.redteam.summary import summarize

        run = ws.runs.get(run_id)
        if kind == "audit":
            print_findings(ws.units.findings(run_id))
            return
        label = BehaviorRef.model_validate(run.config["behavior"]).label()
        if kind == "elicit":
            try:
                observed = run_evaluation_set(ws, run_id).observations
                result = forecast(observed, DEPLOY_N, bootstrap=300, seed=seed)
            except TailscopeError as exc:  # too few queries for a tail fit
                say(f"{label}: not enough signal for a forecast: {exc}", to_stdout=True)
                return
            print_forecast(result, f"{label} ({run.config['method']})")
        else:
            say(f"red team: {label} ({run.config['method']})")
            cases = ws.redteam.cases(run_id)
            print_redteam_summary(summarize(cases, seed=seed), cases, run.config["method"])

    return print_run


def register(app: typer.Typer) -> None:
    app.command(cls=RegistryHelp)(audit)
