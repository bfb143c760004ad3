"""`tailscope guard data` and `guard train`: the synthetic data and the trained classifiers
that guards are built from (docs/methods/guards.md). `cli/guard.py` adds them to the
`guard` group with `add_build_commands`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tailscope.cli.common import (
    JsonOpt,
    RegistryHelp,
    RichProgress,
    SeedOpt,
    WorkspaceOpt,
    add_row,
    open_workspace,
    out,
    print_json,
    refuse_with_resume,
    validated,
)
from tailscope.errors import TailscopeError
from tailscope.models.registry import DEFAULT_MODEL

StyleOpt = Annotated[
    list[str],
    typer.Option(
        "--style",
        help="Augmentation styles to generate [default: all]: paraphrase, jailbreak, roleplay, "
        "base64, leetspeak, spacing, reversal, system-prompt.",
    ),
]
HeldoutOpt = Annotated[
    list[str],
    typer.Option(
        "--heldout",
        help="Styles kept out of training, for the held-out evaluation [default: roleplay, "
        "leetspeak].",
    ),
]


def data(
    ctx: typer.Context,
    constitution: Annotated[
        str | None,
        typer.Option("--constitution", "-c", help="lock-picking, secret-password or a YAML path."),
    ] = None,
    generator: Annotated[
        str, typer.Option(help="The LM that writes the data: any model spec ({backends}).")
    ] = DEFAULT_MODEL,
    per_category: Annotated[int, typer.Option(help="Plain queries per category.")] = 40,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per completion.")] = 64,
    style: StyleOpt = [],
    heldout: HeldoutOpt = [],
    seed: SeedOpt = 0,
    resume: Annotated[str | None, typer.Option(help="Continue guard-data run RUN_ID.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write labelled guard training data from a constitution: an LM writes restricted and
    permitted queries and completions, augmentations dress them up (docs/methods/guards.md).

    Examples:
      tailscope guard data -c lock-picking --per-category 30
      tailscope guard data -c my-domain.yaml --generator openai:http://localhost:8000/v1#big
    """
    from tailscope.guard.constitution import load_constitution
    from tailscope.guard.data import GuardDataConfig
    from tailscope.runs.execute import execute, resumable

    ws = open_workspace(workspace)
    if resume:
        refuse_with_resume(ctx)
        run, config = resumable(ws, resume, ("guard-data",))
        seed = run.seed
    else:
        if not constitution:
            raise TailscopeError("no constitution given: pass -c lock-picking or a .yaml path")
        settings = {"styles": style, "heldout_styles": heldout}
        config = validated(
            GuardDataConfig,
            constitution=load_constitution(constitution).model_dump(),
            generator=generator,
            per_category=per_category,
            max_new_tokens=max_new_tokens,
            **{k: v for k, v in settings.items() if v},
        )
    run_id = execute(ws, "guard-data", config, seed, resume=resume, progress=RichProgress())
    _print_data(ws, run_id, as_json)


def _print_data(ws, run_id: str, as_json: bool) -> None:
    from collections import Counter

    examples = ws.guard_data.examples(run_id)
    counts = Counter((e.split, e.restricted) for e in examples)
    splits = ("train", "calibration", "test", "heldout")
    if as_json:
        rows = {
            s: {"restricted": counts[(s, True)], "permitted": counts[(s, False)]} for s in splits
        }
        print_json({"run": run_id, "examples": len(examples), "splits": rows})
        return
    table = Table("split", "restricted", "permitted", title=f"guard data {run_id}")
    for split in splits:
        add_row(table, split, counts[(split, True)], counts[(split, False)])
    out.print(table)


ClassifierOpt = Annotated[
    list[str],
    typer.Option(
        "--classifier",
        help="What to train [default: input-classifier, value-head, activation-probe, minilm]; "
        "transcript-judge is measured and calibrated, not trained.",
    ),
]


def train(
    ctx: typer.Context,
    data: Annotated[str | None, typer.Option(help="The guard-data run to train on.")] = None,
    classifier: ClassifierOpt = [],
    backbone: Annotated[
        str, typer.Option(help="White-box model the input classifier and value head read with.")
    ] = DEFAULT_MODEL,
    target: Annotated[
        str | None,
        typer.Option(help="White-box target of the activation probe [default: backbone]."),
    ] = None,
    judge: Annotated[str, typer.Option(help="The transcript judge's model.")] = DEFAULT_MODEL,
    fp_budget: Annotated[
        float, typer.Option(help="False-positive budget on held-out permitted data.")
    ] = 0.01,
    steps: Annotated[int, typer.Option(help="Value-head training steps.")] = 300,
    seed: SeedOpt = 0,
    resume: Annotated[str | None, typer.Option(help="Continue guard-train run RUN_ID.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train guard classifiers on guard data, calibrate each threshold to a false-positive
    budget on held-out permitted examples, and save them as workspace artifacts.

    Examples:
      tailscope guard train --data RUN_ID
      tailscope guard train --data RUN_ID --classifier value-head --fp-budget 0.005
    """
    from tailscope.guard.train import GuardTrainConfig, check_data
    from tailscope.runs.execute import execute, resumable

    ws = open_workspace(workspace)
    if resume:
        refuse_with_resume(ctx)
        run, config = resumable(ws, resume, ("guard-train",))
        seed = run.seed
    else:
        if not data:
            raise TailscopeError(
                "no guard data given: pass --data RUN_ID of `tailscope guard data`"
            )
        values = {"classifiers": classifier} if classifier else {}
        config = validated(
            GuardTrainConfig,
            data=data,
            backbone=backbone,
            target=target,
            judge=judge,
            fp_budget=fp_budget,
            steps=steps,
            **values,
        )
        config.check()
        check_data(ws, data)  # before a run is recorded
    run_id = execute(ws, "guard-train", config, seed, resume=resume, progress=RichProgress())
    _print_train(ws, run_id, as_json)


def _print_train(ws, run_id: str, as_json: bool) -> None:
    records = list(ws.units.completed(run_id).values())
    if as_json:
        print_json({"run": run_id, "classifiers": records})
        return
    table = Table(
        "classifier",
        "threshold",
        "test TPR",
        "test FPR",
        "held-out TPR",
        "artifact",
        title=f"guard classifiers {run_id}",
    )
    for r in records:
        test, held = r.get("test") or {}, r.get("heldout") or {}
        add_row(
            table,
            r["classifier"],
            f"{r['threshold']:.4g}",
            _rate(test.get("tpr")),
            _rate(test.get("fpr")),
            _rate(held.get("tpr")),
            r.get("artifact") or "-",
        )
    out.print(table)


def _rate(cell) -> str:
    if not cell or not cell.get("n"):
        return "-"
    return f"{cell['rate']:.2f} [{cell['low']:.2f}, {cell['high']:.2f}] n={cell['n']}"


def add_build_commands(app: typer.Typer) -> None:
    app.command("data", cls=RegistryHelp)(data)
    app.command("train", cls=RegistryHelp)(train)
