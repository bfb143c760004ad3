"""CLI commands for query pools, elicitation, forecasts and backtests.

`register(app)` adds `queries generate|import|list`, `elicit`, `forecast` and `backtest` to
the main app; the conventions are cli.py's (TailscopeError -> one line and exit 2, --json,
--workspace, rich progress, Ctrl-C -> interrupted and resumable).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tailscope.errors import TailscopeError

queries_app = typer.Typer(help="Build and inspect query pools.", no_args_is_help=True)

DEFAULT_MODEL = "smollm2-135m-instruct"


def _cli():
    from tailscope import cli  # late: cli imports this module at its bottom

    return cli


def _ws(path: Path | None):
    return _cli()._workspace(path)


def _progress(console):
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ]
    return Progress(*columns, console=console, transient=False)


def _workspace_opt():
    return typer.Option(
        None,
        "--workspace",
        "-w",
        help="Workspace directory [env TAILSCOPE_WORKSPACE; default ./tailscope-workspace].",
    )


# ---- queries -------------------------------------------------------------------------------


@queries_app.command("generate")
def queries_generate(
    pool: str = typer.Option(..., "--pool", help="Pool name (created, or extended if it exists)."),
    count: int = typer.Option(100, help="New distinct queries to add."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Generator model."),
    template: list[str] = typer.Option(
        [], "--template", "-t", help="Prompt template (repeat); default: built-in question lists."
    ),
    temperature: float = typer.Option(1.0, help="Sampling temperature (> 0)."),
    max_new_tokens: int = typer.Option(160, help="Tokens per generated list."),
    seconds: float = typer.Option(None, help="Stop after this many seconds."),
    calls: int = typer.Option(
        None, help="Stop after this many generation calls [default: enough for --count]."
    ),
    seed: int = typer.Option(0, help="Random seed."),
    allow_non_questions: bool = typer.Option(False, help="Keep items not ending in '?'."),
    workspace: Path = _workspace_opt(),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Generate queries with a language model (numbered-list prompts), deduplicated, into a pool.

    Example: tailscope queries generate --pool questions --count 200
    """
    from tailscope.elicit.queries import DEFAULT_TEMPLATES, QueryFilter, generate_queries
    from tailscope.models.registry import load_model

    cli = _cli()
    if count <= 0:
        raise TailscopeError(f"--count {count} must be positive")
    if temperature <= 0:
        raise TailscopeError(f"--temperature {temperature} must be > 0: generation samples")
    if calls is not None and calls < 1:
        raise TailscopeError(f"--calls {calls} must be at least 1")
    ws = _ws(workspace)
    templates = tuple(template) or DEFAULT_TEMPLATES
    ws.create_pool(pool, {"created_by": "generate", "model": model})
    existing = ws.pool_queries(pool)
    with cli.console.status(f"loading {model}"):
        lm = load_model(model)
    added = 0
    with _progress(cli.console) as bars:
        task = bars.add_task("queries", total=count)

        def store(new, stats):
            nonlocal added
            added += ws.add_queries(pool, new, source=f"generate:{lm.name}:seed={seed}")
            bars.update(task, completed=min(count, added))

        try:
            _, stats = generate_queries(
                lm,
                count,
                templates=templates,
                temperature=temperature,
                max_new_tokens=max_new_tokens,
                seed=seed,
                rules=QueryFilter(require_question=not allow_non_questions),
                existing=existing,
                max_seconds=seconds,
                max_calls=calls,
                on_batch=store,
            )
        except KeyboardInterrupt:
            cli.console.print(f"interrupted: {added} queries were added to pool {pool!r}")
            raise typer.Exit(130) from None
    summary = {"pool": pool, "added": added, "size": len(existing) + added, **stats.__dict__}
    if as_json:
        cli.out.print_json(json.dumps(summary))
    else:
        cli.out.print(
            f"pool {pool!r}: added {added} queries ({summary['size']} in all) from "
            f"{stats.replies} replies in {stats.seconds:.0f}s"
        )


@queries_app.command("import")
def queries_import(
    source: Path = typer.Argument(None, help="A .txt (one per line), .jsonl or .csv file."),
    pool: str = typer.Option(..., "--pool", help="Pool name (created, or extended if it exists)."),
    column: str = typer.Option("query", help="Field or column holding the query (jsonl, csv)."),
    from_run: str = typer.Option(None, help="Import the prompts found by a search run instead."),
    workspace: Path = _workspace_opt(),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Import queries from a file or from a previous run's findings into a pool."""
    from tailscope.elicit.queries import read_queries_file

    cli = _cli()
    ws = _ws(workspace)
    if (source is None) == (from_run is None):
        raise TailscopeError("give exactly one of a FILE argument or --from-run RUN_ID")
    if source is not None:
        queries, origin = read_queries_file(source, column), f"file:{source.name}"
    else:
        found = ws.findings(from_run)
        queries = [(f.get("verification") or {}).get("prompt") or f.get("prompt") for f in found]
        queries = [q for q in queries if q and q.strip()]
        if not queries:
            raise TailscopeError(f"run {from_run} has no findings with a prompt to import")
        origin = f"run:{from_run}"
    ws.create_pool(pool, {"created_by": "import"})
    added = ws.add_queries(pool, queries, source=origin)
    size = len(ws.pool_queries(pool))
    summary = {"pool": pool, "read": len(queries), "added": added, "size": size}
    if as_json:
        cli.out.print_json(json.dumps(summary))
    else:
        cli.out.print(
            f"pool {pool!r}: added {added} of {len(queries)} queries "
            f"({len(queries) - added} already there); {size} in all"
        )


@queries_app.command("list")
def queries_list(
    workspace: Path = _workspace_opt(),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the query pools in the workspace."""
    cli = _cli()
    pools = _ws(workspace).list_pools()
    if as_json:
        cli.out.print_json(json.dumps(pools))
        return
    table = Table("pool", "queries", "created")
    for p in pools:
        table.add_row(p["name"], str(p["size"]), p["created_at"])
    cli.out.print(table)


# ---- elicit --------------------------------------------------------------------------------


def elicit(
    behavior: str = typer.Option(None, "--behavior", "-b", help="Behavior name or YAML path."),
    param: list[str] = typer.Option([], "--param", "-p", help="Behavior parameter KEY=VALUE."),
    pool: str = typer.Option(None, "--pool", help="Query pool (see `tailscope queries list`)."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Target model."),
    method: str = typer.Option(
        "sample", help="sample (k replies, detector on each) or exact (teacher-forced target)."
    ),
    k: int = typer.Option(32, "--k", help="Samples per query (method sample)."),
    temperature: float = typer.Option(1.0, help="Sampling temperature (> 0)."),
    max_new_tokens: int = typer.Option(16, help="Reply tokens per sample."),
    threshold: float = typer.Option(
        None, help="Adaptive stopping: stop a query once its interval excludes this p."
    ),
    interval: str = typer.Option("wilson", help="Confidence interval: wilson or jeffreys."),
    confidence: float = typer.Option(0.95, help="Interval confidence level."),
    limit: int = typer.Option(None, help="Only the first N queries of the pool."),
    chunk: int = typer.Option(
        None, help="Queries per committed batch [default: 256 exact, 32 sample]."
    ),
    seed: int = typer.Option(0, help="Random seed; the same seed reproduces the run."),
    resume: str = typer.Option(None, help="Continue the elicitation run RUN_ID."),
    workspace: Path = _workspace_opt(),
    as_json: bool = typer.Option(False, "--json", help="Print per-query results as JSON."),
) -> None:
    """Estimate, for every query in a pool, the probability that one reply shows a behavior.

    Example: tailscope elicit -b toxic-from-benign --pool questions --k 32
    """
    from tailscope.behaviors.ref import BehaviorRef
    from tailscope.elicit.session import RUN_KIND, ElicitConfig, pool_slice

    cli = _cli()
    ws = _ws(workspace)
    if resume:
        run = ws.get_run(resume)
        if run.kind != RUN_KIND:
            raise TailscopeError(f"run {resume} is a {run.kind} run, not an elicitation run")
        config, seed, run_id = ElicitConfig.model_validate(run.config), run.seed, resume
    else:
        if not behavior:
            raise TailscopeError(
                "no behavior given: pass --behavior NAME (see `tailscope behaviors list`)"
            )
        if not pool:
            raise TailscopeError("no query pool given: pass --pool NAME (see `tailscope queries`)")
        if chunk is not None and chunk < 1:
            raise TailscopeError(f"--chunk {chunk} must be at least 1")
        if method not in ("sample", "exact"):
            raise TailscopeError(f"unknown method {method!r}: use sample or exact")
        config = ElicitConfig(
            model=model,
            behavior=BehaviorRef(name=behavior, params=cli._parse_pairs(param, "--param")),
            pool=pool,
            method=method,
            k=k,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            threshold=threshold,
            confidence=confidence,
            interval=interval,
            chunk=chunk,
            limit=limit,
        )
        run_id = None
    config.check()
    pool_slice(ws, config)  # an empty or unknown pool fails before the model loads
    run_id = run_elicitation(ws, config, seed, run_id, cli.console)
    rows = ws.elicitations(run_id)
    if as_json:
        cli.out.print_json(json.dumps({"run": run_id, "results": rows}))
    else:
        print_elicitations(rows, cli.out)


def run_elicitation(ws, config, seed: int, run_id: str | None, console) -> str:
    """Create (or reopen) an elicitation run and execute it with a progress bar."""
    from tailscope.elicit.session import RUN_KIND, execute_elicitation
    from tailscope.models.registry import load_model

    with console.status(f"loading {config.model}"):
        lm = load_model(config.model)
    if run_id is None:
        run_id = ws.create_run(RUN_KIND, config.model_dump(mode="json"), seed, lm.identity())
    console.print(f"run [bold]{run_id}[/] in {ws.path}")
    try:
        with _progress(console) as bars:
            task = bars.add_task(f"elicit ({config.method})", total=None)

            def tick(done: int, total: int) -> None:
                bars.update(task, completed=done, total=total)

            execute_elicitation(ws, run_id, lm, config, seed, tick)
    except KeyboardInterrupt:
        ws.set_status(run_id, "interrupted")
        console.print(f"interrupted: continue with `tailscope elicit --resume {run_id}`")
        raise typer.Exit(130) from None
    except BaseException as exc:
        ws.set_status(run_id, "failed", error=f"{exc.__class__.__name__}: {exc}")
        raise
    return run_id


def print_elicitations(rows: list[dict], out, top: int = 15) -> None:
    ranked = sorted(rows, key=lambda r: -(r.get("logp") if "logp" in r else _log(r["p"])))
    table = Table(
        "query",
        "p",
        "interval",
        "hits/k",
        title=f"top {min(top, len(rows))} of {len(rows)} queries",
    )
    for r in ranked[:top]:
        if r["method"] == "exact":
            table.add_row(repr(r["query"]), f"{r['p']:.3g}", "exact", "-")
        else:
            table.add_row(
                repr(r["query"]),
                f"{r['p']:.3g}",
                f"[{r['low']:.3g}, {r['high']:.3g}]",
                f"{r['hits']}/{r['k']}",
            )
    out.print(table)


def _log(p: float) -> float:
    return math.log(p) if p > 0 else -math.inf


# ---- forecast and backtest -----------------------------------------------------------------


def _load_observations(ws_path, run_id: str | None, input_file: Path | None, column: str):
    from tailscope.elicit.session import run_observations
    from tailscope.forecast.data import read_probability_file

    if input_file is None and run_id is not None and _looks_like_file(run_id):
        input_file, run_id = Path(run_id), None  # a file given where a run id goes
    if (run_id is None) == (input_file is None):
        raise TailscopeError(
            "give exactly one source: an elicitation RUN_ID or --input FILE (csv/jsonl, column p)"
        )
    if input_file is not None:
        return read_probability_file(input_file, column), f"file {input_file.name}"
    obs, _ = run_observations(_ws(ws_path), run_id)
    return obs, f"run {run_id}"


def _looks_like_file(source: str) -> bool:
    return Path(source).suffix.lower() in (".csv", ".jsonl", ".json") or Path(source).is_file()


def _parse_count(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TailscopeError(f"{what} {text!r} is not a number: write e.g. {what} 1e6") from None
    if not math.isfinite(value) or value < 1 or value != int(value):
        raise TailscopeError(f"{what} {text!r} must be a whole number >= 1, e.g. {what} 1e6")
    return value


def forecast(
    run_id: str = typer.Argument(None, help="Elicitation run id, or a CSV/JSONL file of p."),
    input_file: Path = typer.Option(
        None, "--input", "-i", help="CSV or JSONL with a column p (optionally p_low, hits, k)."
    ),
    column: str = typer.Option("p", help="Column holding the probability."),
    deploy: str = typer.Option("1e6", help="Deployment queries n to forecast for, e.g. 1e6."),
    k_tail: int = typer.Option(10, help="Top evaluation queries in the Gumbel-tail fit."),
    tau: float = typer.Option(None, help="Also forecast the share of queries with p > tau."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for intervals (0: none)."),
    confidence: float = typer.Option(0.95, help="Interval confidence level."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    plot: Path = typer.Option(Path("forecast.png"), help="Where to write the plot (PNG)."),
    workspace: Path = _workspace_opt(),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Forecast deployment-scale risk from an evaluation set's elicitation probabilities.

    Example: tailscope forecast RUN_ID --deploy 1e6
    """
    from tailscope.forecast.forecast import forecast as run_forecast
    from tailscope.forecast.plot import save_forecast_plot

    cli = _cli()
    n = _parse_count(deploy, "--deploy")
    obs, label = _load_observations(workspace, run_id, input_file, column)
    result = run_forecast(
        obs, n, k_tail=k_tail, tau=tau, bootstrap=bootstrap, confidence=confidence, seed=seed
    )
    save_forecast_plot(plot, obs, result, title=f"{label}: m = {obs.m}, n = {int(n):,}")
    if as_json:
        cli.out.print_json(json.dumps({**result.to_json(), "plot": str(plot)}))
        return
    print_forecast(result, cli.out, label)
    cli.out.print(f"plot written to {plot}")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _band(low: float | None, high: float | None) -> str:
    return "-" if low is None else f"[{low:.3g}, {high:.3g}]"


def print_forecast(result, out, label: str) -> None:
    pct = round(100 * result.confidence)
    ones = f" -> {result.one_rule}" if result.one_rule else ""
    summary = (
        f"{label}: m = {result.m} queries, {result.n_positive} with p > 0 ({result.n_zero} "
        f"with p = 0, {result.n_one} with p = 1{ones}); observed max p = "
        f"{result.observed_max_p:.3g}"
    )
    out.print(summary, soft_wrap=True)
    table = Table(
        "method",
        f"worst-query p at n = {result.deploy_n:,}",
        f"{pct}% interval",
        "P(>= 1 occurrence)",
        f"{pct}% interval",
        *((f"share with p > {result.tau:g}", f"{pct}% interval") if result.tau else ()),
    )
    for m in result.methods:
        if not m.ok:
            cells = ["not enough signal", "-", "-", "-"]
            cells += ["-", "-"] if result.tau else []
            table.add_row(m.method, *cells)
            continue
        q = f"{m.q_p:.3g}" if m.q_p and m.q_p > 0 else f"10^{m.log10_q_p:.1f}"
        cells = [
            q,
            _band(m.q_p_low, m.q_p_high),
            _fmt(m.aggregate_risk),
            _band(m.aggregate_low, m.aggregate_high),
        ]
        if result.tau:
            cells += [_fmt(m.frequency_above_tau), _band(m.frequency_low, m.frequency_high)]
        table.add_row(m.method, *cells)
    out.print(table)
    for m in result.methods:
        if not m.ok:
            out.print(f"{m.method}: not enough signal: {m.reason}", soft_wrap=True)
        elif m.bootstrap_valid is not None and m.bootstrap_valid < 0.9:
            out.print(
                f"{m.method}: only {100 * m.bootstrap_valid:.0f}% of bootstrap resamples had "
                "enough signal; the interval is conditional on those",
                soft_wrap=True,
            )


def backtest(
    run_id: str = typer.Argument(None, help="Elicitation run id, or a CSV/JSONL file of p."),
    input_file: Path = typer.Option(None, "--input", "-i", help="CSV or JSONL with a column p."),
    column: str = typer.Option("p", help="Column holding the probability."),
    m: int = typer.Option(100, "--m", help="Evaluation queries per split."),
    n: int = typer.Option(10_000, "--n", help="Deployment queries per split."),
    repeats: int = typer.Option(200, help="Random disjoint splits."),
    k_tail: int = typer.Option(10, help="Top evaluation queries in the Gumbel-tail fit."),
    seed: int = typer.Option(0, help="Split seed."),
    workspace: Path = _workspace_opt(),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Backtest the forecasts on a pool with known p: disjoint evaluation/deployment splits."""
    from tailscope.forecast.backtest import backtest as run_backtest

    cli = _cli()
    obs, label = _load_observations(workspace, run_id, input_file, column)
    result = run_backtest(obs, m, n, repeats=repeats, k_tail=k_tail, seed=seed)
    if as_json:
        cli.out.print_json(json.dumps(result.to_json()))
        return
    print_backtest(result, cli.out, label)


def print_backtest(result, out, label: str) -> None:
    table = Table(
        "method",
        "forecasts",
        "mean |log10 error|",
        "median",
        "within 10x",
        "under-estimated",
        title=f"{label}: {result.repeats} splits, m = {result.m} -> n = {result.n:,} "
        f"(pool {result.pool_size:,})",
    )
    for s in result.methods:
        table.add_row(
            s.method,
            f"{s.forecasts}/{result.repeats}",
            _fmt(s.mean_abs_log10_error),
            _fmt(s.median_abs_log10_error),
            "-" if s.within_10x is None else f"{100 * s.within_10x:.0f}%",
            "-" if s.under_estimated is None else f"{100 * s.under_estimated:.0f}%",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the elicitation and forecasting commands to the main app."""
    app.add_typer(queries_app, name="queries")
    app.command()(elicit)
    app.command()(forecast)
    app.command()(backtest)
