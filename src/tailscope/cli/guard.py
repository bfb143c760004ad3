"""`tailscope guard`: guards around a target. `eval` measures a guarded target against the
unguarded one (docs/methods/guards.md); `data` and `train` build the guards it wraps."""

from __future__ import annotations

from typing import Annotated

import typer

from tailscope.cli.common import (
    JsonOpt,
    RegistryGroup,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    open_workspace,
    print_json,
    refuse_with_resume,
    say,
    validated,
)
from tailscope.cli.guard_build import add_build_commands
from tailscope.models.registry import DEFAULT_MODEL

guard_app = typer.Typer(
    help="Guards around a target: synthetic data, trained classifiers, evaluation.",
    no_args_is_help=True,
    cls=RegistryGroup,
)
Many = Annotated[list[str], typer.Option()]
add_build_commands(guard_app)  # data, train (cli/guard_build.py)


@guard_app.command("eval", cls=RegistryHelp)
def guard_eval(
    ctx: typer.Context,
    guarded: Annotated[
        str | None, typer.Option(help="The guarded target: guarded:FILE.yaml or FILE.yaml.")
    ] = None,
    target: Annotated[str, typer.Option(help="The same target unguarded.")] = DEFAULT_MODEL,
    behavior: Annotated[
        str | None, typer.Option("--behavior", "-b", help="Attack success [default: no refusal].")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="A guard-data run: held-out restricted, permitted queries.")
    ] = None,
    restricted: Annotated[list[str], typer.Option(help="Pool of restricted queries.")] = [],
    permitted: Annotated[list[str], typer.Option(help="Pool of permitted queries.")] = [],
    replay: Annotated[list[str], typer.Option(help="Search or red-team run to replay.")] = [],
    general: Annotated[int, typer.Option(help="Queries of the built-in general pool.")] = 0,
    adaptive: Annotated[
        list[str],
        typer.Option(
            help="Attack run against both (repeat): a red-team method ({redteam_methods}) at "
            "--budget queries, or a white-box search ({search_methods}) at --search-steps "
            "steps (white-box targets only)."
        ),
    ] = [],
    attacker: Annotated[
        str | None, typer.Option(help="Adaptive attacker [default: the unguarded target].")
    ] = None,
    budget: Annotated[int, typer.Option(help="Target queries per adaptive red-team attack.")] = 64,
    search_steps: Annotated[int, typer.Option(help="Optimizer steps per adaptive search.")] = 32,
    batch: Annotated[int, typer.Option(help="Queries per committed batch.")] = 16,
    max_new_tokens: Annotated[int, typer.Option(help="Reply tokens.")] = 48,
    system_prompt: Annotated[str | None, typer.Option(help="[default: the behavior's]")] = None,
    seed: SeedOpt = 0,
    resume: Annotated[str | None, typer.Option(help="Continue guard-eval run RUN_ID.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attack the guarded target and the unguarded one alike; count false refusals; time both.

    Examples:
      tailscope guard eval --guarded lock-guard.yaml --data RUN_ID --general 100
      tailscope guard eval --guarded secret-guard.yaml -b secret-leakage --adaptive rl
      tailscope guard eval --guarded guard.yaml -b say:target=idiot --adaptive arca
    """
    from tailscope.runs.execute import execute, resumable

    ws = open_workspace(workspace)
    if resume:
        refuse_with_resume(ctx)
        run, config = resumable(ws, resume, ("guard-eval",))
        seed = run.seed
    else:
        config = _new_config({k: v for k, v in locals().items() if k in _FIELDS})
    run_id = execute(ws, "guard-eval", config, seed, resume=resume, progress=RichProgress())
    _print(ws, run_id, as_json)


_FIELDS = (
    "guarded target behavior data restricted permitted replay general adaptive attacker budget "
    "search_steps batch max_new_tokens system_prompt"
).split()


def _new_config(values: dict):
    from tailscope.behaviors.ref import BehaviorRef
    from tailscope.errors import TailscopeError
    from tailscope.guard.evaluate import GuardEvalConfig

    if not values["guarded"]:
        raise TailscopeError("no guarded target: pass --guarded FILE.yaml (docs/methods/guards.md)")
    if values["behavior"]:
        values["behavior"] = BehaviorRef.parse(values["behavior"])
    config = validated(GuardEvalConfig, **values)
    config.check()
    return config


def _print(ws, run_id: str, as_json: bool) -> None:
    from tailscope.kinds.guard_eval import eval_summary

    summary = eval_summary(ws, run_id)
    if as_json:
        print_json({"run": run_id, "summary": summary})
        return
    print_guard_eval(summary)
    say(f"run {run_id}: `tailscope report {run_id}` for the curves and examples")


def _rate(r: dict) -> str:
    if not r or r.get("rate") is None:
        return "-"
    return f"{r['rate']:.1%} [{r['low']:.1%}, {r['high']:.1%}] ({r['hits']}/{r['n']})"


def print_guard_eval(summary: dict) -> None:
    from rich.table import Table

    from tailscope.cli.common import add_row, out
    from tailscope.guard.eval_summary import flops_line

    table = Table("queries", "ASR unguarded", "ASR guarded", "refused unguarded", "refused guarded")
    for name, s in summary["sets"].items():
        cells = [
            s[k] for k in ("asr_unguarded", "asr_guarded", "refused_unguarded", "refused_guarded")
        ]
        add_row(table, name, *(_rate(c) for c in cells))
    for method, sides in summary["adaptive"].items():
        add_row(
            table,
            f"adaptive {method}",
            _rate(sides.get("unguarded")),
            _rate(sides.get("guarded")),
            "",
            "",
        )
    out.print(table)
    overhead = summary["overhead"]
    if overhead.get("overhead") is not None:
        say(
            f"per generated token: {overhead['unguarded_ms_per_token']:.2f} ms unguarded, "
            f"{overhead['guarded_ms_per_token']:.2f} ms guarded ({overhead['overhead']:+.1%})",
            to_stdout=True,
        )
    if flops := flops_line(overhead):
        say(flops, to_stdout=True)
    if summary["halts"]:
        halts = sorted(summary["halts"])
        say(f"streaming halts: {len(halts)}, median token {halts[len(halts) // 2]}", to_stdout=True)


def register(app: typer.Typer) -> None:
    app.add_typer(guard_app, name="guard")
