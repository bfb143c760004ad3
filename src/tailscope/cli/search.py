"""`tailscope search`: white-box search for prompts that elicit a behavior."""

from __future__ import annotations

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
    open_workspace,
    print_json,
    refuse_with_resume,
    validated,
)
from tailscope.cli.tables import print_findings
from tailscope.models.registry import DEFAULT_MODEL
from tailscope.options import parse_options, parse_pairs

BehaviorsOpt = Annotated[
    list[str],
    typer.Option(
        "--behavior",
        "-b",
        help="Behavior name or YAML path, repeat for several; per-behavior parameters as "
        "NAME:KEY=VALUE[&KEY=VALUE], e.g. -b 'say:target=Shut up'.",
    ),
]
MethodOpt = Annotated[str, typer.Option(help="Search method: {search_methods}.")]
SearchOptionOpt = Annotated[
    list[str],
    typer.Option("--opt", "-o", help="Method option KEY=VALUE. Defaults: {search_options}."),
]
Steps = Annotated[int, typer.Option(help="Step budget per restart (a coordinate update is one).")]
Seconds = Annotated[float | None, typer.Option(help="Wall-clock budget per restart, in seconds.")]
Restarts = Annotated[int, typer.Option(help="Random restarts per behavior.")]
PromptLength = Annotated[
    int | None, typer.Option(help="Optimized prompt tokens [default: the behavior's].")
]
OutputLength = Annotated[
    int | None, typer.Option(help="Output tokens of a joint search [default: the behavior's].")
]
LamPerp = Annotated[float, typer.Option(help="Naturalness weight on the prompt's log-probability.")]
UnigramWeight = Annotated[float, typer.Option(help="Weight of the detectors' per-token terms.")]
SystemPrompt = Annotated[
    str | None, typer.Option(help="System prompt [default: the behavior's, else the model's].")
]
NonAscii = Annotated[bool, typer.Option(help="Allow non-ASCII prompt tokens.")]
Placement = Annotated[
    str, typer.Option(help="Optimized span after (suffix) or before (prefix) the request.")
]
InitPrompt = Annotated[
    str | None, typer.Option(help="Start from this prompt text (sets the prompt length).")
]
Loss = Annotated[str, typer.Option(help="Output term: logprob or mellowmax (GCG).")]
MellowmaxAlpha = Annotated[float, typer.Option(help="Mellowmax temperature (--loss mellowmax).")]
Universal = Annotated[
    bool, typer.Option(help="One prompt for all --behavior entries at once (summed objective).")
]
CandidateConstraints = Annotated[
    bool,
    typer.Option(
        help="Also drop candidate prompts that fail the behavior's prompt detectors, as "
        "those with forbidden text or a failed round trip always are. Costs one batched "
        "detector call per step: 3% of the wall clock with the language detector, more "
        "with a model-based one such as toxicity (docs/benchmarks.md)."
    ),
]
Resume = Annotated[
    str | None, typer.Option(help="Continue search run RUN_ID where it stopped (its config).")
]


def search(
    ctx: typer.Context,
    behavior: BehaviorsOpt = [],
    param: ParamOpt = [],
    model: ModelOpt = DEFAULT_MODEL,
    method: MethodOpt = "arca",
    opt: SearchOptionOpt = [],
    steps: Steps = 100,
    seconds: Seconds = None,
    restarts: Restarts = 1,
    seed: SeedOpt = 0,
    prompt_length: PromptLength = None,
    output_length: OutputLength = None,
    lam_perp: LamPerp = 0.0,
    unigram_weight: UnigramWeight = 1.0,
    system_prompt: SystemPrompt = None,
    allow_non_ascii: NonAscii = False,
    placement: Placement = "suffix",
    init_prompt: InitPrompt = None,
    loss: Loss = "logprob",
    mellowmax_alpha: MellowmaxAlpha = 1.0,
    universal: Universal = False,
    candidate_constraints: CandidateConstraints = False,
    resume: Resume = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search for prompts that make the model show a behavior, and verify each for real.

    Example: tailscope search -b say -p target='I hate you' --steps 60
    """
    from tailscope.behaviors.ref import BehaviorRef
    from tailscope.runs.execute import execute, resumable
    from tailscope.search.config import SearchConfig, SearchSettings

    # Options named like SearchSettings fields go through as they are.
    same = {k: v for k, v in locals().items() if k in SearchSettings.model_fields}
    ws = open_workspace(workspace)
    if resume:
        refuse_with_resume(ctx)
        run, config = resumable(ws, resume, ("search",))
        seed = run.seed
    else:
        settings = validated(
            SearchSettings,
            **same,
            method_options=parse_options(opt, "--opt"),
            max_steps=steps,
            max_seconds=seconds,
        )
        params = parse_pairs(param, "--param")
        refs = [BehaviorRef.parse(b, params) for b in behavior]
        config = SearchConfig(model=model, behaviors=refs, settings=settings)
    run_id = execute(ws, "search", config, seed, resume=resume, progress=RichProgress())
    findings = ws.units.findings(run_id)
    if as_json:
        print_json([f.to_json() for f in findings])
    else:
        print_findings(findings)


def register(app: typer.Typer) -> None:
    app.command(cls=RegistryHelp)(search)
