"""`tailscope queries generate|import|list`: the query pools elicitation runs draw from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailscope.cli.common import (
    JsonOpt,
    ModelOpt,
    RegistryGroup,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    add_row,
    open_workspace,
    out,
    print_json,
    say,
)
from tailscope.elicit.queries import PROMPTS_PER_CALL
from tailscope.errors import TailscopeError
from tailscope.models.registry import DEFAULT_MODEL

queries_app = typer.Typer(
    help="Build and inspect query pools.", no_args_is_help=True, cls=RegistryGroup
)
PoolOpt = Annotated[
    str, typer.Option("--pool", help="Pool name (created, or extended if it exists).")
]


TemplateOpt = Annotated[
    list[str],
    typer.Option("--template", "-t", help="Prompt template (repeat) [default: built-in lists]."),
]
TopicOpt = Annotated[
    list[str],
    typer.Option(
        "--topic", help="Topic for templates with {topic} (repeat) [default: ~230 built-in topics]."
    ),
]
PromptsPerCallOpt = Annotated[int, typer.Option(help="List prompts per batched generation call.")]
RepliesPerCallOpt = Annotated[
    int, typer.Option(help="Sampled lists per prompt (one shared prefill).")
]
CallsOpt = Annotated[
    int | None, typer.Option(help="Stop after this many generation calls [default: enough].")
]


@queries_app.command("generate", cls=RegistryHelp)
def queries_generate(
    pool: PoolOpt,
    count: Annotated[int, typer.Option(help="New distinct queries to add.")] = 100,
    model: ModelOpt = DEFAULT_MODEL,
    template: TemplateOpt = [],
    topic: TopicOpt = [],
    temperature: Annotated[float, typer.Option(help="Sampling temperature (> 0).")] = 0.8,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per generated list.")] = 160,
    prompts_per_call: PromptsPerCallOpt = PROMPTS_PER_CALL,
    replies_per_call: RepliesPerCallOpt = 2,
    seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    calls: CallsOpt = None,
    seed: SeedOpt = 0,
    allow_non_questions: Annotated[
        bool, typer.Option(help="Keep items not ending in '?'.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate queries with a language model (numbered-list prompts), deduplicated, into a pool.

    Each call asks --prompts-per-call list prompts (generic, and one per --topic) for
    --replies-per-call lists each, in one batch, and stores its queries at once: run the
    same command again after an interruption and it goes on with the next prompts and seeds.

    Example: tailscope queries generate --pool questions --count 200
    """
    from tailscope.elicit.queries import (
        DEFAULT_TEMPLATES,
        check_generation_settings,
        list_prompts,
    )
    from tailscope.elicit.topics import GENERATION_TOPICS
    from tailscope.text import QueryFilter

    templates = tuple(template) or DEFAULT_TEMPLATES
    topics = tuple(topic) or GENERATION_TOPICS
    check_generation_settings(count, templates, temperature, prompts_per_call, replies_per_call)
    if calls is not None and calls < 1:
        raise TailscopeError(f"--calls {calls} must be at least 1")
    list_prompts(templates, topics)  # a {topic} template without topics fails before loading
    ws = open_workspace(workspace)
    ws.pools.create(pool, {"created_by": "generate", "model": model})
    existing = ws.pools.queries(pool)
    generation = {
        "templates": templates,
        "topics": topics,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "prompts_per_call": prompts_per_call,
        "replies_per_call": replies_per_call,
        "seed": seed,
        "rules": QueryFilter(require_question=not allow_non_questions),
        "existing": existing,
        "max_seconds": seconds,
        "max_calls": calls,
    }
    added, stats = _fill_pool(ws, pool, model, count, generation)
    _print_generated(pool, added, len(existing) + added, stats, as_json)


def _print_generated(pool: str, added: int, size: int, stats, as_json: bool) -> None:
    summary = {"pool": pool, "added": added, "size": size, **stats.__dict__}
    if as_json:
        print_json(summary)
    else:
        say(
            f"pool {pool!r}: added {added} queries ({size} in all) from "
            f"{stats.replies} replies in {stats.seconds:.0f}s",
            to_stdout=True,
        )


def _fill_pool(ws, pool: str, model: str, count: int, generation: dict):
    """Generate into `pool`, storing each call's new queries as they come: (added, stats)."""
    from tailscope.elicit.queries import (
        generate_queries,
        generation_source,
        next_generation_call,
    )
    from tailscope.models.registry import load_model

    progress = RichProgress()
    with progress.status(f"loading {model}"):
        lm = load_model(model)
    seed = generation["seed"]
    first_call = next_generation_call(ws.pools.sources(pool), lm.name, seed)
    task = progress.task("queries", total=count)
    added = 0

    def store(new, stats) -> None:
        nonlocal added
        source = generation_source(lm.name, seed, first_call + stats.calls - 1)
        added += ws.pools.add(pool, new, source=source)
        task.update(completed=min(count, added))

    try:
        _, stats = generate_queries(lm, count, first_call=first_call, on_batch=store, **generation)
    except KeyboardInterrupt:
        progress.finish()
        say(f"interrupted: {added} queries were added to pool {pool!r}")
        raise typer.Exit(130) from None
    progress.finish()
    return added, stats


@queries_app.command("import", cls=RegistryHelp)
def queries_import(
    pool: PoolOpt,
    source: Annotated[
        Path | None,
        typer.Argument(metavar="FILE", help="A .txt (one per line), .jsonl or .csv file."),
    ] = None,
    column: Annotated[
        str, typer.Option(help="Field or column with the query (jsonl, csv).")
    ] = "query",
    from_run: Annotated[
        str | None, typer.Option(help="Import the prompts a search run found instead.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import queries from a file or from a previous run's findings into a pool."""
    from tailscope.elicit.queries import read_queries_file

    ws = open_workspace(workspace)
    if (source is None) == (from_run is None):
        raise TailscopeError("give exactly one of a FILE argument or --from-run RUN_ID")
    if source is not None:
        queries, origin = read_queries_file(source, column), f"file:{source.name}"
    else:
        ws.runs.get(from_run)  # a missing run is "no run", not "no findings"
        queries = [f.prompt for f in ws.units.findings(from_run) if f.prompt.strip()]
        if not queries:
            raise TailscopeError(f"run {from_run} has no findings with a prompt to import")
        origin = f"run:{from_run}"
    ws.pools.create(pool, {"created_by": "import"})
    added = ws.pools.add(pool, queries, source=origin)
    summary = {
        "pool": pool,
        "read": len(queries),
        "added": added,
        "size": len(ws.pools.queries(pool)),
    }
    if as_json:
        print_json(summary)
    else:
        say(
            f"pool {pool!r}: added {added} of {len(queries)} queries "
            f"({len(queries) - added} already there); {summary['size']} in all",
            to_stdout=True,
        )


@queries_app.command("list", cls=RegistryHelp)
def queries_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List the query pools in the workspace."""
    pools = open_workspace(workspace).pools.list()
    if as_json:
        print_json([p.to_json() for p in pools])
        return
    table = Table("pool", "queries", "created")
    for p in pools:
        add_row(table, p.name, p.size, p.created_at)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(queries_app, name="queries")
