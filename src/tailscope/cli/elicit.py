"""`tailscope elicit`, `forecast`, `backtest` and `plan`: per-query elicitation probabilities,
what they mean at deployment scale, and where the next queries should go."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from tailscope.cli.common import (
    JsonOpt,
    ModelOpt,
    ParamOpt,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    no_behavior,
    open_workspace,
    print_json,
    refuse_with_resume,
    say,
)
from tailscope.cli.tables import print_backtest, print_elicitations, print_forecast, print_plan
from tailscope.errors import TailscopeError
from tailscope.models.registry import DEFAULT_MODEL
from tailscope.options import parse_pairs

Source = Annotated[
    str | None,
    typer.Argument(
        help="Elicitation run id, red-team run id (its test cases, p = the detector's score "
        "of each reply), or a CSV/JSONL file of p."
    ),
]
InputFile = Annotated[
    Path | None,
    typer.Option("--input", "-i", help="CSV or JSONL with a column p (optionally p_low, hits, k)."),
]
Column = Annotated[str, typer.Option(help="Column holding the probability.")]
KTail = Annotated[int, typer.Option(help="Top evaluation queries in the tail fits.")]
EmbeddingModes = Annotated[
    bool,
    typer.Option(
        help="Also warn when the top queries fall in one MiniLM embedding cluster that is "
        "rare in the whole set. Loads the embedding model and embeds up to 1,000 queries: "
        "seconds on CPU. Needs a run's queries, not a file."
    ),
]


def elicit(
    ctx: typer.Context,
    behavior: Annotated[
        str | None, typer.Option("--behavior", "-b", help="Behavior name or YAML path.")
    ] = None,
    param: ParamOpt = [],
    pool: Annotated[
        str | None, typer.Option(help="Query pool (see `tailscope queries list`).")
    ] = None,
    model: ModelOpt = DEFAULT_MODEL,
    method: Annotated[
        str, typer.Option(help="sample (k replies, detector on each) or exact (teacher-forced).")
    ] = "sample",
    k: Annotated[int, typer.Option("--k", help="Samples per query (method sample).")] = 32,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (> 0).")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(help="Reply tokens per sample.")] = 16,
    threshold: Annotated[
        float | None, typer.Option(help="Adaptive stopping: stop once the interval excludes p.")
    ] = None,
    interval: Annotated[
        str, typer.Option(help="Confidence interval: wilson or jeffreys.")
    ] = "wilson",
    confidence: Annotated[float, typer.Option(help="Interval confidence level.")] = 0.95,
    limit: Annotated[int | None, typer.Option(help="Only the first N queries of the pool.")] = None,
    chunk: Annotated[
        int | None,
        typer.Option(help="Queries per committed batch [default: 256 exact, 32 sample]."),
    ] = None,
    seed: SeedOpt = 0,
    resume: Annotated[str | None, typer.Option(help="Continue elicitation run RUN_ID.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate, for every query in a pool, the probability that one reply shows a behavior.

    Example: tailscope elicit -b toxic-from-benign --pool questions --k 32
    """
    from tailscope.elicit.session import ElicitConfig, pool_slice
    from tailscope.runs.execute import execute, resumable

    settings = {k_: v for k_, v in locals().items() if k_ in ElicitConfig.model_fields}
    ws = open_workspace(workspace)
    if resume:
        refuse_with_resume(ctx)
        run, config = resumable(ws, resume, ("elicit",))
        seed = run.seed
    else:
        config = _new_config(settings, param)
    config.check()
    pool_slice(ws, config)  # an empty or unknown pool fails before the model loads
    run_id = execute(ws, "elicit", config, seed, resume=resume, progress=RichProgress())
    rows = ws.elicitations.list(run_id)
    if as_json:
        print_json({"run": run_id, "results": [r.to_json() for r in rows]})
    else:
        print_elicitations(rows)


def _new_config(settings: dict, param: list[str]):
    """An elicitation config from the command's options, each mistake one line."""
    from tailscope.behaviors.ref import BehaviorRef
    from tailscope.elicit.session import ElicitConfig

    if not settings["behavior"]:
        raise no_behavior()
    if not settings["pool"]:
        raise TailscopeError("no query pool given: pass --pool NAME (see `tailscope queries`)")
    if settings["method"] not in ("sample", "exact"):
        raise TailscopeError(f"unknown method {settings['method']!r}: use sample or exact")
    if settings["chunk"] is not None and settings["chunk"] < 1:
        raise TailscopeError(f"--chunk {settings['chunk']} must be at least 1")
    ref = BehaviorRef(name=settings["behavior"], params=parse_pairs(param, "--param"))
    return ElicitConfig(**{**settings, "behavior": ref})


def _observations(workspace, source: str | None, input_file: Path | None, column: str):
    """The evaluation set of an elicitation or red-team run, or of a probability file."""
    from tailscope.forecast.data import read_probability_file
    from tailscope.forecast.sources import EvaluationSet, run_evaluation_set

    if input_file is None and source is not None and _looks_like_file(source):
        input_file, source = Path(source), None  # a file given where a run id goes
    if (source is None) == (input_file is None):
        raise TailscopeError(
            "give exactly one source: an elicitation or red-team RUN_ID, or --input FILE "
            "(csv/jsonl, column p)"
        )
    if input_file is not None:
        found = EvaluationSet(read_probability_file(input_file, column), None, "file")
        return found, f"file {input_file.name}"
    found = run_evaluation_set(open_workspace(workspace), source)
    kind = "red-team run" if found.kind == "redteam" else "run"
    return found, f"{kind} {source}"


def _embedder(found):
    """MiniLM's embed function, for the embedding-cluster mode check of a run's queries."""
    if found.queries is None:
        raise TailscopeError(
            "--embedding-modes needs the queries: a probability file has none, give the "
            "elicitation or red-team RUN_ID instead"
        )
    from tailscope.detectors.embeddings import embedder

    return embedder().embed


def _plot_path(plot: Path) -> Path:
    """The PNG to write: PLOT itself, or PLOT/forecast.png for a directory; a missing
    parent directory is one line, not a traceback."""
    path = plot / "forecast.png" if plot.is_dir() else plot
    if not path.parent.is_dir():
        raise TailscopeError(
            f"--plot {plot}: directory {path.parent} does not exist: create it or pick another"
        )
    return path


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
    source: Source = None,
    input_file: InputFile = None,
    column: Column = "p",
    deploy: Annotated[str, typer.Option(help="Deployment queries n to forecast for.")] = "1e6",
    k_tail: KTail = 10,
    tau: Annotated[
        float | None, typer.Option(help="Also forecast the share of queries with p > tau.")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for intervals (0: none).")
    ] = 1000,
    confidence: Annotated[float, typer.Option(help="Interval confidence level.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write the plot (PNG) here, or as forecast.png in this directory."),
    ] = None,
    embedding_modes: EmbeddingModes = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Forecast deployment-scale risk from an evaluation set's elicitation probabilities.

    Example: tailscope forecast RUN_ID --deploy 1e6
    """
    from tailscope.forecast.forecast import forecast as run_forecast
    from tailscope.forecast.plot import save_forecast_plot

    n = _parse_count(deploy, "--deploy")
    found, label = _observations(workspace, source, input_file, column)
    obs = found.observations
    path = None if plot is None else _plot_path(plot)
    embed = _embedder(found) if embedding_modes else None
    result = run_forecast(
        obs,
        n,
        k_tail=k_tail,
        tau=tau,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        queries=found.queries,
        embed=embed,
    )
    if path is not None:
        save_forecast_plot(path, obs, result, title=f"{label}: m = {obs.m}, n = {int(n):,}")
    if as_json:
        plot_path = None if path is None else str(path)
        print_json({**result.to_json(), "p_means": found.p_means, "plot": plot_path})
        return
    if found.p_means:
        say(f"{label}: {found.p_means}", to_stdout=True)
    print_forecast(result, label)
    if path is not None:
        say(f"plot written to {path}", to_stdout=True)


def backtest(
    source: Source = None,
    input_file: InputFile = None,
    column: Column = "p",
    m: Annotated[int, typer.Option("--m", help="Evaluation queries per split.")] = 100,
    n: Annotated[int, typer.Option("--n", help="Deployment queries per split.")] = 10_000,
    repeats: Annotated[int, typer.Option(help="Random disjoint splits.")] = 200,
    k_tail: KTail = 10,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    pot_coverage: Annotated[
        bool,
        typer.Option(
            help="Also the pot interval's coverage: 60 maximum-likelihood refits per split, "
            "about 0.75 s each on 2 CPU cores (the others' take milliseconds)."
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest the forecasts on a pool with known p: disjoint evaluation/deployment splits."""
    from tailscope.forecast.backtest import QUICK_COVERAGE
    from tailscope.forecast.backtest import backtest as run_backtest

    found, label = _observations(workspace, source, input_file, column)
    coverage = (*QUICK_COVERAGE, "pot") if pot_coverage else QUICK_COVERAGE
    result = run_backtest(
        found.observations, m, n, repeats=repeats, k_tail=k_tail, seed=seed, coverage=coverage
    )
    if as_json:
        print_json(result.to_json())
    else:
        print_backtest(result, label)


def plan(
    runs: Annotated[
        list[str], typer.Argument(help="Elicitation or red-team run ids, one per behavior.")
    ],
    budget: Annotated[int, typer.Option(help="New evaluation queries to split among them.")],
    deploy: Annotated[str, typer.Option(help="Deployment queries n to forecast for.")] = "1e6",
    k_tail: KTail = 10,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Split a query budget among behaviors' evaluation runs to shrink the widest forecast
    interval at the deployment size; shows the expected interval after the split. A red-team
    run counts its test cases as the queries, each with p = the detector's score of the reply.

    Example: tailscope plan RUN_A RUN_B --budget 2000 --deploy 1e6
    """
    from tailscope.forecast.plan import check_budget, plan_json
    from tailscope.forecast.plan import plan as make_plan
    from tailscope.forecast.sources import run_evaluation_set
    from tailscope.report.blocks import behavior_label

    n = _parse_count(deploy, "--deploy")
    check_budget(budget)  # before the workspace is opened
    ws = open_workspace(workspace)
    sets = [
        (
            f"{run_id} {behavior_label(ws.runs.get(run_id))}",
            run_evaluation_set(ws, run_id).observations,
        )
        for run_id in runs
    ]
    models = {str(ws.runs.get(run_id).config.get("model")) for run_id in runs}
    if len(models) > 1:
        raise TailscopeError(
            f"the runs elicit different models ({', '.join(sorted(models))}): plan one model's "
            "runs at a time"
        )
    rows = make_plan(sets, budget, int(n), k_tail=k_tail)
    if as_json:
        print_json({"budget": budget, "deploy_n": int(n), "plan": plan_json(rows)})
    else:
        print_plan(rows, budget, int(n))


def register(app: typer.Typer) -> None:
    for command in (elicit, forecast, backtest, plan):
        app.command(cls=RegistryHelp)(command)
