"""Every guard side by side on the narrow domain: each guard trained by
`benchmarks/guard_train.py` (and the keyword baseline) wraps SmolLM2-135M-Instruct in its own
guarded-target file, and one `guard-eval` run per guard attacks it with the guard-data run's
held-out restricted queries (held-out augmentation styles) and asks its held-out and test
permitted queries and some of the general pool, against the same model unguarded.

    .venv/bin/python benchmarks/guard_table.py --workspace guard-ws \
        --out benchmarks/results/guard-table-DATE.json     # under the shared model lock

Each finished evaluation is kept in the workspace and found again, so a killed call resumes
at the next guard. Prints a markdown table of ASR, false refusals, overhead and halts."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime
from pathlib import Path

import yaml
from guard import KEYWORDS  # benchmarks/ is on sys.path when run as a script
from guard_train import latest, resume_or_start
from machine_info import machine

from tailscope.guard.evaluate import GuardEvalConfig
from tailscope.kinds.guard_eval import eval_summary
from tailscope.store import Workspace

TARGET = "smollm2-135m-instruct"
GUARDS = ("keyword", "input-classifier", "minilm", "value-head", "activation-probe")


def guard_settings(name: str, artifacts: dict[str, str]) -> dict:
    """The guard entry of a guarded-target file; trained guards use their calibrated
    threshold (the artifact's)."""
    if name == "keyword":
        return {"kind": "keyword", "stage": "input", "keywords": KEYWORDS}
    if name not in artifacts:
        raise SystemExit(f"no trained {name!r} in the workspace: run benchmarks/guard_train.py")
    return {"kind": name, "artifact": artifacts[name]}


def trained_artifacts(ws: Workspace, data: str) -> dict[str, str]:
    """classifier -> artifact directory, from the completed guard-train runs on `data`."""
    found = {}
    for run in ws.runs.list():
        if run.kind == "guard-train" and run.config.get("data") == data:
            for record in ws.units.completed(run.id).values():
                found.setdefault(record["classifier"], record["artifact"])
    return found


def row(name: str, summary: dict, run) -> dict:
    sets, cost = summary["sets"], summary["overhead"]
    started, ended = (datetime.fromisoformat(t) for t in (run.created_at, run.updated_at))
    return {
        "guard": name,
        "run": run.id,
        "wall_s": round((ended - started).total_seconds()),
        "restricted": sets.get("restricted"),
        "permitted": sets.get("permitted"),
        "general": sets.get("general"),
        "overhead": cost,
        "median_halt_token": statistics.median(summary["halts"]) if summary["halts"] else None,
        "halts": len(summary["halts"]),
        "actions": summary["actions"],
    }


def _cell(r: dict | None, key: str) -> str:
    if not r:
        return "—"
    x = r[key]
    return f"{x['hits']}/{x['n']} = {x['rate']:.2f} [{x['low']:.2f}, {x['high']:.2f}]"


def _refusals(r: dict | None) -> str:
    """Refusal counts unguarded → guarded (the intervals are in the JSON)."""
    if not r:
        return "—"
    plain, guarded = r["refused_unguarded"], r["refused_guarded"]
    return f"{plain['hits']} → {guarded['hits']} of {plain['n']}"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| guard | ASR unguarded | ASR guarded | refused permitted | refused general"
        " | wall overhead | FLOPs overhead | halts (median token) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cost = r["overhead"]
        wall = f"{cost['overhead']:+.1%}" if cost.get("overhead") is not None else "—"
        flops = cost.get("flops_overhead")
        flops = f"{flops:+.1%}" if flops is not None else "—"
        halt = f"{r['halts']} ({r['median_halt_token']})" if r["halts"] else "0"
        lines.append(
            f"| `{r['guard']}` | {_cell(r['restricted'], 'asr_unguarded')} "
            f"| {_cell(r['restricted'], 'asr_guarded')} "
            f"| {_refusals(r['permitted'])} | {_refusals(r['general'])} "
            f"| {wall} | {flops} | {halt} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--guards", nargs="+", default=list(GUARDS), choices=GUARDS)
    parser.add_argument("--general", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    data = latest(ws, "guard-data")
    if data is None or ws.runs.get(data).status != "completed":
        raise SystemExit("no completed guard-data run in the workspace: run guard_train.py")
    artifacts = trained_artifacts(ws, data)
    files = args.workspace / "guarded-targets"
    files.mkdir(exist_ok=True)
    started, rows = time.time(), []
    for name in args.guards:
        path = files / f"{name}.yaml"
        settings = {"target": TARGET, "guards": [guard_settings(name, artifacts)]}
        path.write_text(yaml.safe_dump(settings), encoding="utf-8")
        config = GuardEvalConfig(
            guarded=f"guarded:{path}",
            target=TARGET,
            data=data,
            general=args.general,
            batch=16,
            max_new_tokens=args.max_new_tokens,
        )
        found = latest(ws, "guard-eval", guarded=config.guarded, data=data)
        run_id = resume_or_start(ws, "guard-eval", config, args.seed, found)
        rows.append(row(name, eval_summary(ws, run_id), ws.runs.get(run_id)))
        print(f"{name}: run {run_id} done", flush=True)
    result = {
        "command": "benchmarks/guard_table.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "machine": machine(),
        "data_run": data,
        "this_call_s": round(time.time() - started, 1),
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown(rows))


if __name__ == "__main__":
    main()
