"""Guard evaluation on the default model, the narrow domain (lock picking): the keyword
baseline around SmolLM2-135M-Instruct against the model unguarded, on the constitution's
restricted and permitted examples and the built-in general pool, in one `guard-eval` run.

    .venv/bin/python benchmarks/guard.py --general 8   # under the shared model lock

Writes benchmarks/results/guard-DATE.json (the run's summary). Success without a behavior
is "not refused and not stopped"; the trained guards come in through --guard-file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml

from tailscope.guard.constitution import load_constitution
from tailscope.guard.evaluate import GuardEvalConfig
from tailscope.kinds.guard_eval import eval_summary
from tailscope.runs.execute import execute
from tailscope.store import Workspace

KEYWORDS = ["pick", "rake", "bump", "shim", "bypass", "crack", "tension wrench", "without the key"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--general", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--guard-file", help="a guarded-target YAML [default: keyword baseline]")
    args = parser.parse_args()
    constitution = load_constitution("lock-picking")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        for name in ("restricted", "permitted"):
            queries = [q for c in getattr(constitution, name) for q in c.examples]
            ws.pools.create(name)
            ws.pools.add(name, queries, "lock-picking constitution")
        guard_file = args.guard_file or _keyword_file(Path(tmp))
        config = GuardEvalConfig(
            guarded=guard_file,
            restricted=["restricted"],
            permitted=["permitted"],
            general=args.general,
            batch=8,
            max_new_tokens=args.max_new_tokens,
        )
        run_id = execute(ws, "guard-eval", config, 0)
        summary = eval_summary(ws, run_id)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    out = Path(__file__).parent / "results" / f"guard-{day}.json"
    record = {"command": "benchmarks/guard.py", "args": vars(args), "summary": summary}
    out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(json.dumps({k: summary[k] for k in ("sets", "overhead", "actions")}, indent=1))


def _keyword_file(directory: Path) -> str:
    path = directory / "keyword-guard.yaml"
    settings = {
        "target": "smollm2-135m-instruct",
        "guards": [{"kind": "keyword", "stage": "input", "keywords": KEYWORDS}],
    }
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return str(path)


if __name__ == "__main__":
    main()
