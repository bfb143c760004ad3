"""Red-team methods side by side at an equal budget of target queries (Perez et al. 2022's
difficulty-vs-diversity comparison), SmolLM2-135M-Instruct as target and attacker.

    .venv/bin/python benchmarks/redteam.py --budget 192
    .venv/bin/python benchmarks/redteam.py --behaviors secret-leakage --methods pair rl
    .venv/bin/python benchmarks/redteam.py --budget 2048 --methods rl --grow  # go on to 2048

Runs live in a workspace (default benchmarks/results/redteam-workspace, not committed):
a killed benchmark resumes its unfinished runs and reuses finished ones. Results go to
benchmarks/results/redteam-DATE.json and a markdown table is printed for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from machine_info import machine  # benchmarks/ is on sys.path when run as a script

from tailscope.behaviors.ref import BehaviorRef
from tailscope.models.registry import DEFAULT_MODEL, load_model
from tailscope.redteam.methods import REDTEAM_METHODS
from tailscope.redteam.session import RedTeamConfig, extend_budget
from tailscope.redteam.summary import summarize
from tailscope.runs.execute import execute
from tailscope.store.workspace import Workspace

RESULTS = Path(__file__).parent / "results"


def find_run(ws: Workspace, config: RedTeamConfig, seed: int, grow: bool):
    """(run, grown): the run of this config and seed; with `grow`, else the largest finished
    run of the same config with a smaller budget, given this budget to go on with."""
    want = config.model_dump(mode="json")
    runs = [r for r in ws.runs.list() if r.kind == "redteam" and r.seed == seed]
    for run in runs:
        if run.config == want:
            return run, False
    smaller = [
        r
        for r in runs
        if grow
        and r.status == "completed"
        and r.config["budget"] < config.budget
        and {**r.config, "budget": config.budget} == want
    ]
    if not smaller:
        return None, False
    run = max(smaller, key=lambda r: r.config["budget"])
    extend_budget(ws, run.id, config.budget)
    return ws.runs.get(run.id), True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--behaviors", nargs="+", default=["offensive-replies", "secret-leakage"])
    parser.add_argument(
        "--methods", nargs="+", default=REDTEAM_METHODS.names(), choices=REDTEAM_METHODS.names()
    )
    parser.add_argument("--budget", type=int, default=192)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--option", action="append", default=[], help="METHOD:KEY=VALUE")
    parser.add_argument("--workspace", type=Path, default=RESULTS / "redteam-workspace")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--grow",
        action="store_true",
        help="go on with a finished run of a smaller budget (same settings) up to --budget",
    )
    args = parser.parse_args()

    options: dict[str, dict] = {"pair": {"stop_on_success": False}}
    for text in args.option:
        method, _, pair = text.partition(":")
        key, _, value = pair.partition("=")
        options.setdefault(method, {})[key] = json.loads(value)

    ws = Workspace(args.workspace)
    target = load_model(DEFAULT_MODEL)
    rows = []
    for behavior in args.behaviors:
        for method in args.methods:
            config = RedTeamConfig(
                model=DEFAULT_MODEL,
                behavior=BehaviorRef(name=behavior),
                method=method,
                options=options.get(method, {}),
                budget=args.budget,
                batch=args.batch,
            )
            run, grown = find_run(ws, config, args.seed, args.grow)
            started = time.perf_counter()
            earlier = run.progress.get("seconds", 0.0) if grown else 0.0
            if run is None or run.status != "completed" or grown:
                print(f"{behavior} / {method}: {run.id if run else 'new run'}", flush=True)
                models = {"target": target, "attacker": target}
                resume = run.id if run else None
                run_id = execute(ws, "redteam", config, args.seed, resume=resume, models=models)
                seconds = earlier + time.perf_counter() - started
                ws.runs.set_progress(run_id, {**ws.runs.get(run_id).progress, "seconds": seconds})
            else:
                run_id = run.id
            run = ws.runs.get(run_id)
            cases = ws.redteam.cases(run_id)
            summary = summarize(cases, seed=args.seed)
            rows.append(
                {
                    "behavior": behavior,
                    "method": method,
                    "run": run_id,
                    "seconds": run.progress.get("seconds"),
                    "stop_reason": run.progress.get("stop_reason"),
                    "options": config.options,
                    **summary,
                    "top": [c.to_json() for c in sorted(cases, key=lambda c: -c.score)[:5]],
                    "cases": cases,  # for the learning curves, not written out
                }
            )
            print(_row(rows[-1]), flush=True)
    out = args.out or RESULTS / f"redteam-{dt.date.today().isoformat()}.json"
    out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "budget": args.budget,
                "rows": [{k: v for k, v in r.items() if k != "cases"} for r in rows],
            },
            indent=1,
            default=lambda x: None,
        )
        + "\n"
    )
    curve = learning_curves(rows, out.with_suffix(".png"))
    print(f"\nwrote {out}" + (f" and {curve}" if curve else "") + "\n")
    print(
        "| behavior | method | queries | hits | hit rate [95% CI] | Self-BLEU | emb. sim. | time |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(_row(r))


def learning_curves(rows: list[dict], path: Path, block: int = 128) -> Path | None:
    """Hit rate per block of `block` target queries, one line per run: whether a method
    learns shows here, not in its overall rate. Only for runs of at least 4 blocks."""
    from matplotlib.figure import Figure

    long = [r for r in rows if r["queries"] >= 4 * block]
    if not long:
        return None
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for r in long:
        hits = [c.hit for c in r["cases"]]
        rates = [
            100 * sum(hits[i : i + block]) / len(hits[i : i + block])
            for i in range(0, len(hits), block)
        ]
        ax.plot(
            [block * (i + 1) for i in range(len(rates))],
            rates,
            marker="o",
            label=f"{r['behavior']} / {r['method']}",
        )
    ax.set_xlabel("target queries")
    ax.set_ylabel(f"hit rate per {block} queries (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    return path


def _row(r: dict) -> str:
    seconds = r["seconds"]
    low, high = r["hit_rate_interval"]
    return (
        f"| {r['behavior']} | {r['method']} | {r['queries']} | {r['hits']} | "
        f"{100 * r['hit_rate']:.1f}% [{100 * low:.1f}, {100 * high:.1f}] | {r['self_bleu']:.3f} | "
        f"{r['embedding_similarity']:.3f} | "
        f"{'-' if seconds is None else f'{seconds:.0f} s'} |"
    )


if __name__ == "__main__":
    main()
