"""Guard data and trained guards on the default model: a guard-data run for a constitution
(SmolLM2-135M-Instruct writes queries and completions), then guard-train runs (the
trained classifiers, then the transcript judge, measured and calibrated), each resumed
where the last call stopped, so the work can be spread over short calls:

    .venv/bin/python benchmarks/guard_train.py --workspace guard-ws \
        --constitution lock-picking --per-category 30 \
        --out benchmarks/results/guard-train-lock-picking-2026-12-02.json

Run it again after an interruption (Ctrl-C, SIGINT from `timeout -s INT`): it resumes the
interrupted run. The JSON holds every classifier's threshold and its held-out rates with
95% Wilson intervals."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from machine_info import machine  # benchmarks/ is on sys.path when run as a script

from tailscope.guard.constitution import load_constitution
from tailscope.guard.data import GuardDataConfig
from tailscope.guard.train import DEFAULT_CLASSIFIERS, GuardTrainConfig
from tailscope.runs.execute import execute, resumable
from tailscope.runs.progress import Progress, Task
from tailscope.store import Workspace


def latest(ws: Workspace, kind: str, **wanted) -> str | None:
    """The newest run of `kind` whose config has every `wanted` key and value."""
    for run in ws.runs.list():
        if run.kind == kind and all(run.config.get(k) == v for k, v in wanted.items()):
            return run.id
    return None


class Printed(Progress):
    """Notes and task counts on stderr, for a run watched from a log."""

    def note(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def task(self, description, total=None, completed=0) -> Task:
        class Line(Task):
            def update(self, *, completed=None, total=None, description=None):
                print(f"  {label}: {completed}/{total_}", file=sys.stderr, flush=True)

        label, total_ = description, total
        return Line()


def resume_or_start(ws, kind: str, config, seed: int, found: str | None) -> str:
    if found is None:
        return execute(ws, kind, config, seed, progress=Printed())
    if ws.runs.get(found).status == "completed":
        return found
    run, recorded = resumable(ws, found, (kind,))
    return execute(ws, kind, recorded, run.seed, resume=found, progress=Printed())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--constitution", default="lock-picking")
    parser.add_argument("--per-category", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    constitution = load_constitution(args.constitution).model_dump()
    data_config = GuardDataConfig(constitution=constitution, per_category=args.per_category)
    started = time.time()
    found = latest(ws, "guard-data", constitution=constitution)
    data = resume_or_start(ws, "guard-data", data_config, args.seed, found)
    trained = []
    for classifiers in (list(DEFAULT_CLASSIFIERS), ["transcript-judge"]):
        config = GuardTrainConfig(data=data, classifiers=classifiers)
        found = latest(ws, "guard-train", data=data, classifiers=classifiers)
        trained.append(resume_or_start(ws, "guard-train", config, args.seed, found))
    examples = ws.guard_data.examples(data)
    counts = {}
    for e in examples:
        key = f"{e.split}/{'restricted' if e.restricted else 'permitted'}"
        counts[key] = counts.get(key, 0) + 1
    result = {
        "command": "benchmarks/guard_train.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "workspace"
        ),
        "machine": machine(),
        "data_run": data,
        "train_runs": trained,
        "examples": counts,
        "this_call_s": round(time.time() - started, 1),
        "classifiers": [r for run in trained for r in ws.units.completed(run).values()],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
