"""`tailscope redteam`: black-box red teaming with an attacker LM."""

from __future__ import annotations

from typing import Annotated

import typer

from tailscope.cli.common import (
    JsonOpt,
    ModelOpt,
    OptionOpt,
    ParamOpt,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    no_behavior,
    open_workspace,
    print_json,
    refuse_with_resume,
    validated,
)
from tailscope.cli.tables import print_redteam_summary
from tailscope.errors import TailscopeError
from tailscope.models.registry import DEFAULT_MODEL
from tailscope.options import parse_options, parse_pairs

Budget = Annotated[
    int | None,
    typer.Option(
        help="Target queries to spend (test cases) [default: 128]. With --resume: the run's "
        "new budget, to go on with a finished run.",
        show_default=False,
    ),
]


def redteam(
    ctx: typer.Context,
    behavior: Annotated[
        str | None,
        typer.Option(
            "--behavior", "-b", help="Behavior name or YAML path, e.g. offensive-replies."
        ),
    ] = None,
    param: ParamOpt = [],
    method: Annotated[
        str, typer.Option(help="{redteam_methods} (docs/methods/redteam.md).")
    ] = "zero-shot",
    budget: Budget = None,
    option: OptionOpt = [],
    model: ModelOpt = DEFAULT_MODEL,
    attacker: Annotated[
        str | None, typer.Option(help="Attacker model [default: the target attacks itself].")
    ] = None,
    batch: Annotated[int, typer.Option(help="Test cases per round (one committed batch).")] = 32,
    max_new_tokens: Annotated[int, typer.Option(help="Target reply tokens.")] = 48,
    system_prompt: Annotated[
        str | None, typer.Option(help="Target system prompt [default: the behavior's].")
    ] = None,
    seed: SeedOpt = 0,
    resume: Annotated[str | None, typer.Option(help="Continue red-team run RUN_ID.")] = None,
    show: Annotated[str | None, typer.Option(help="Only print the summary of run RUN_ID.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate test cases with an attacker LM, send them to the target, flag failures.

    Examples:
      tailscope redteam -b offensive-replies --method few-shot --budget 200
      tailscope redteam -b secret-leakage --method pair -o streams=8 -o stop_on_success=false
      tailscope redteam --resume RUN_ID --budget 1024   # 1024 queries in all, trained on
    """
    from tailscope.redteam.session import RedTeamConfig, extend_budget
    from tailscope.runs.execute import execute, resumable

    ws = open_workspace(workspace)
    if show:
        resumable(ws, show, ("redteam",))
        _print(ws, show, as_json)
        return
    if resume:
        refuse_with_resume(ctx, "budget")
        run, config = resumable(ws, resume, ("redteam",))
        seed = run.seed
        if budget is not None and budget != config.budget:
            config = extend_budget(ws, resume, budget)
    else:
        if not behavior:
            raise no_behavior()
        config = _new_config(
            {k: v for k, v in locals().items() if k in RedTeamConfig.model_fields}, param, option
        )
    run_id = execute(ws, "redteam", config, seed, resume=resume, progress=RichProgress())
    _print(ws, run_id, as_json)


def _new_config(settings: dict, param: list[str], option: list[str]):
    """A red-team config from the command's options, every method option spelled out."""
    from tailscope.behaviors.ref import BehaviorRef
    from tailscope.redteam.session import RedTeamConfig

    budget = 128 if settings["budget"] is None else settings["budget"]
    if budget < 1:
        raise TailscopeError(f"--budget {budget} must be at least 1 target query")
    ref = BehaviorRef.parse(settings["behavior"], parse_pairs(param, "--param"))
    values = {**settings, "budget": budget, "behavior": ref, "options": parse_options(option)}
    config = validated(RedTeamConfig, **values)
    config.check()
    return config.resolved()


def _print(ws, run_id: str, as_json: bool) -> None:
    from tailscope.redteam.summary import summarize

    cases = ws.redteam.cases(run_id)
    summary = summarize(cases)
    if as_json:
        print_json({"run": run_id, "summary": summary})
        return
    print_redteam_summary(summary, cases, ws.runs.get(run_id).config["method"])


def register(app: typer.Typer) -> None:
    app.command(cls=RegistryHelp)(redteam)
