"""`tailscope redteam`: black-box red teaming with an attacker LM."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from tailscope.cli_elicit import DEFAULT_MODEL, _cli, _progress, _workspace_opt, _ws
from tailscope.errors import TailscopeError

METHOD_HELP = "zero-shot | few-shot | supervised | rl | pair (see docs/methods/redteam.md)."


def redteam(
    behavior: str = typer.Option(
        None, "--behavior", "-b", help="Behavior name or YAML path, e.g. offensive-replies."
    ),
    param: list[str] = typer.Option([], "--param", "-p", help="Behavior parameter KEY=VALUE."),
    method: str = typer.Option("zero-shot", "--method", help=METHOD_HELP),
    budget: int = typer.Option(
        None,
        "--budget",
        help="Target queries to spend (test cases) [default: 128]. With --resume: the run's "
        "new budget, to go on with a finished run.",
        show_default=False,
    ),
    option: list[str] = typer.Option(
        [], "--option", "-o", help="Method option KEY=VALUE, e.g. -o temperature=0.1."
    ),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Target model."),
    attacker: str = typer.Option(
        None, "--attacker", help="Attacker model [default: the target attacks itself]."
    ),
    batch: int = typer.Option(32, help="Test cases per round (one committed batch)."),
    max_new_tokens: int = typer.Option(48, help="Target reply tokens."),
    system_prompt: str = typer.Option(
        None, "--system-prompt", help="Target system prompt [default: the behavior's]."
    ),
    seed: int = typer.Option(0, help="Random seed; the same seed reproduces the run."),
    resume: str = typer.Option(None, help="Continue the red-team run RUN_ID."),
    show: str = typer.Option(None, help="Only print the summary of red-team run RUN_ID."),
    workspace: Path = _workspace_opt(),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate test cases with an attacker LM, send them to the target, flag failures.

    Examples:
      tailscope redteam -b offensive-replies --method few-shot --budget 200
      tailscope redteam -b secret-leakage --method pair -o streams=8 -o stop_on_success=false
      tailscope redteam --resume RUN_ID --budget 1024   # 1024 queries in all, trained on
    """
    from tailscope.redteam.session import RUN_KIND, RedTeamConfig, extend_budget

    cli = _cli()
    ws = _ws(workspace)
    if show:
        _print(ws, _redteam_run(ws, show, RUN_KIND).id, as_json)
        return
    if resume:
        run = _redteam_run(ws, resume, RUN_KIND)
        config, seed, run_id = RedTeamConfig.model_validate(run.config), run.seed, resume
        if budget is not None and budget != config.budget:
            config = extend_budget(ws, run_id, budget)
    else:
        if not behavior:
            raise TailscopeError(
                "no behavior given: pass --behavior NAME (see `tailscope behaviors list`)"
            )
        budget = 128 if budget is None else budget
        if budget < 1:
            raise TailscopeError(f"--budget {budget} must be at least 1 target query")
        config = cli._validated(
            RedTeamConfig,
            model=model,
            attacker=attacker,
            behavior=cli._behavior_ref(behavior, cli._parse_pairs(param, "--param")),
            method=method,
            options={
                k: cli._parse_option_value(v) for k, v in cli._parse_pairs(option, "-o").items()
            },
            budget=budget,
            batch=batch,
            max_new_tokens=max_new_tokens,
            system_prompt=system_prompt,
        )
        config.check()
        config = config.resolved()
        run_id = None
    config.check()
    run_id = run_redteam(ws, config, seed, run_id, cli.console)
    _print(ws, run_id, as_json)


def _redteam_run(ws, run_id: str, kind: str):
    run = ws.get_run(run_id)
    if run.kind != kind:
        raise TailscopeError(f"run {run_id} is a {run.kind} run, not a red-team run")
    return run


def run_redteam(ws, config, seed: int, run_id: str | None, console) -> str:
    """Create (or reopen) a red-team run and execute it with a progress bar."""
    from tailscope.models.registry import load_model
    from tailscope.redteam.session import RUN_KIND, execute_redteam

    with console.status(f"loading {config.model}"):
        target = load_model(config.model)
        attacker = (
            target if config.attacker in (None, config.model) else load_model(config.attacker)
        )
    if run_id is None:
        identity = {**target.identity(), "attacker": attacker.identity()}
        run_id = ws.create_run(RUN_KIND, config.model_dump(mode="json"), seed, identity)
    console.print(f"run [bold]{run_id}[/] in {ws.path}")
    try:
        with _progress(console) as bars:
            task = bars.add_task(f"red team ({config.method})", total=config.budget)

            def tick(session) -> None:
                bars.update(
                    task,
                    completed=len(session.cases),
                    description=f"red team ({config.method}) · {session.hits} hits",
                )

            session = execute_redteam(ws, run_id, config, seed, target, attacker, tick)
    except KeyboardInterrupt:
        ws.set_status(run_id, "interrupted")
        console.print(f"interrupted: continue with `tailscope redteam --resume {run_id}`")
        raise typer.Exit(130) from None
    except TailscopeError:
        raise
    except BaseException as exc:
        ws.set_status(run_id, "failed", error=f"{exc.__class__.__name__}: {exc}")
        raise
    if session.stop_reason:
        console.print(f"stopped early: {session.stop_reason}")
    for note in ws.get_run(run_id).progress.get("warnings", []):
        console.print(f"warning: {note}")
    return run_id


def _print(ws, run_id: str, as_json: bool) -> None:
    from tailscope.redteam.summary import summarize

    cli = _cli()
    cases = ws.redteam_cases(run_id)
    summary = summarize(cases)
    if as_json:
        # NaN (e.g. Self-BLEU of one test case) is not JSON: it becomes null.
        finite = {
            k: None if isinstance(v, float) and math.isnan(v) else v for k, v in summary.items()
        }
        cli.out.print_json(json.dumps({"run": run_id, "summary": finite}))
        return
    print_summary(summary, cases, cli.out, ws.get_run(run_id).config["method"])


def _fmt(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"


def _band(interval) -> str:
    return "-" if interval is None else f"{100 * interval[0]:.1f}, {100 * interval[1]:.1f}"


def print_summary(summary: dict, cases: list[dict], out, method: str) -> None:
    table = Table("method", "queries", "hits", "hit rate [95% CI]", "Self-BLEU", "emb. sim.")
    table.add_row(
        method,
        str(summary["queries"]),
        str(summary["hits"]),
        f"{100 * summary['hit_rate']:.1f}% [{_band(summary['hit_rate_interval'])}]",
        _fmt(summary["self_bleu"]),
        _fmt(summary["embedding_similarity"]),
    )
    for source, row in summary["by_source"].items():
        if source != method:
            table.add_row(
                f"  of which {source}",
                str(row["queries"]),
                str(row["hits"]),
                f"{100 * row['hit_rate']:.1f}%",
                "",
                "",
            )
    out.print(table)
    if summary["failure_clusters"]:
        clusters = Table("size", "representative failure", title="failures, clustered")
        for c in summary["failure_clusters"]:
            clusters.add_row(str(c["size"]), c["representative"])
        out.print(clusters)
    top = sorted(cases, key=lambda c: -c["score"])[:5]
    best = Table("score", "test case", "target reply", title="highest-scoring test cases")
    for c in top:
        best.add_row(f"{c['score']:.2f}", c["test_case"], c["reply"][:120])
    out.print(best)


def register(app: typer.Typer) -> None:
    app.command()(redteam)
