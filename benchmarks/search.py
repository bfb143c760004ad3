"""Search benchmark: verified success rate, time-to-success and verified successes per
CPU-minute at an equal wall-clock budget per (method, target, seed).

The target sets are data files (benchmarks/data/search/*.yaml), each split into a dev half
(for tuning defaults) and a test half (for reported numbers). Every method in
`tailscope.search.methods` runs through the same recorded session code that
`tailscope search` uses; `nanogcg` runs the public reference implementation in its own
virtual environment (`make bench-setup` creates `.venv-nanogcg`) on the same converted
model, chat template, targets, budget, search width, top-k, initial string and forbidden
tokens, and its replies are checked as text the same way.

Resumable: each finished (set, method, target, seed) is appended to a JSONL file at once,
and a rerun with the same budget and settings skips what that file already holds. The
summary (success rate with Wilson 95% intervals, median time-to-success,
`constraint_failed` count, verified successes per CPU-minute, share of time spent in the
candidate filters) is printed as markdown and written next to the JSONL.

    .venv/bin/python benchmarks/search.py --set offensive-1-token names --split dev \\
        --methods arca gcg --seeds 0 --budget-s 20 --limit 4
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from tailscope.behaviors.ref import BehaviorRef
from tailscope.models.registry import DEFAULT_MODEL, load_model, local_model_dir
from tailscope.runs.execute import execute
from tailscope.search.config import SearchConfig, SearchSettings
from tailscope.search.tokens import allowed_tokens
from tailscope.stats import binomial_interval
from tailscope.store.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "search"
RESULTS = Path(__file__).parent / "results"
NANOGCG_PYTHON = ROOT / ".venv-nanogcg" / "bin" / "python"
# GCG's defaults (512 candidates, top-256) take ~10 s a step on 2 CPU cores; the
# benchmark uses a width that gives GCG tens of steps per target on such a machine.
GCG_OPTIONS = {"search_width": 64, "topk": 64}
GCG_INIT = "x x x x x x"  # both GCGs start from nanoGCG's style of initial string


@dataclass
class TargetSet:
    name: str
    behavior: str  # a built-in behavior, or a YAML path relative to the repository
    param: str
    dev: list[str]
    test: list[str]

    def ref(self, target: str) -> BehaviorRef:
        name = self.behavior
        if name.endswith(".yaml"):
            name = str(ROOT / name)
        return BehaviorRef(name=name, params={self.param: target})


def load_set(name: str) -> TargetSet:
    raw = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    return TargetSet(**raw)


def available_sets() -> list[str]:
    return sorted(p.stem for p in DATA.glob("*.yaml") if "dev" in p.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Unit:
    set: str
    split: str
    method: str
    target: str
    seed: int

    def key(self, args) -> tuple:
        return (self.set, self.method, self.target, self.seed, args.budget_s, args.constraints)


def plan(args) -> list[Unit]:
    units = []
    for set_name in args.set:
        targets = getattr(load_set(set_name), args.split)[: args.limit]
        units += [
            Unit(set_name, args.split, method, target, seed)
            for method in args.methods
            for seed in args.seeds
            for target in targets
        ]
    return units


def row_key(row: dict) -> tuple:
    return (
        row["set"],
        row["method"],
        row["target"],
        row["seed"],
        row["budget_s"],
        row["candidate_constraints"],
    )


def settings_for(method: str, args) -> SearchSettings:
    gcg = method == "gcg"
    extra = {"candidate_constraints": True} if args.constraints else {}
    return SearchSettings(
        method=method,
        method_options=GCG_OPTIONS if gcg else {},
        init_prompt=GCG_INIT if gcg else None,
        max_steps=None,
        max_seconds=args.budget_s,
        **extra,
    )


def run_tailscope(model, workspace: Workspace, unit: Unit, args) -> dict:
    ref = load_set(unit.set).ref(unit.target)
    config = SearchConfig(
        model=DEFAULT_MODEL, behaviors=[ref], settings=settings_for(unit.method, args)
    )
    run_id = execute(workspace, "search", config, unit.seed, models={"target": model})
    (finding,) = workspace.units.findings(run_id)
    steps = workspace.units.steps(run_id)
    dropped: dict[str, int] = {}
    for step in steps:
        for reason, n in step.get("dropped", {}).items():  # older code records none
            dropped[reason] = dropped.get(reason, 0) + n
    return {
        "success": finding.success,
        "status": finding.verification.status,
        "success_s": finding.success_s,
        "steps": finding.steps,
        "elapsed_s": finding.elapsed_s,
        "prompt": finding.prompt,
        "output": finding.output,
        "forward_tokens": finding.forward_tokens,
        "dropped": dropped,
        "filter_s": round(sum(s.get("filter_s", 0.0) for s in steps), 3),
    }


def export_for_nanogcg(model_dir: Path, out: Path) -> Path:
    """The converted model in the layout transformers 4.x reads (what nanogcg pins)."""
    if out.exists():
        return out
    shutil.copytree(model_dir, out)
    config = json.loads((out / "config.json").read_text())
    config["rope_theta"] = config.get("rope_parameters", {}).get("rope_theta", 10000.0)
    config["torch_dtype"] = config.pop("dtype", "float32")
    (out / "config.json").write_text(json.dumps(config, indent=2))
    tok = json.loads((out / "tokenizer_config.json").read_text())
    tok["tokenizer_class"] = "PreTrainedTokenizerFast"
    # SmolLM2's bos token is <|im_start|>; nanoGCG strips the bos token from the rendered
    # template with str.replace, which would delete every <|im_start|> of the chat format.
    tok["bos_token"] = None
    tok["chat_template"] = (out / "chat_template.jinja").read_text()
    (out / "tokenizer_config.json").write_text(json.dumps(tok, indent=2))
    return out


def run_nanogcg(model, unit: Unit, args, tmp: Path) -> dict:
    """One target through benchmarks/nanogcg_runner.py, with tailscope's forbidden tokens."""
    if not NANOGCG_PYTHON.exists():
        raise SystemExit("nanogcg is not installed: run `make bench-setup` first")
    behavior = load_set(unit.set).ref(unit.target).load()
    if not behavior.is_fixed_output:
        raise SystemExit(f"set {unit.set}: nanoGCG has no joint (output-optimizing) mode")
    forbidden = ~allowed_tokens(model.tokenizer, model.vocab_size, False, behavior.forbid_in_prompt)
    job = {
        "model_dir": str(export_for_nanogcg(local_model_dir(DEFAULT_MODEL), tmp / "nanogcg-model")),
        "targets": [{"target": behavior.output.target, "request": behavior.prompt_prefix}],
        "seconds": args.budget_s,
        "seed": unit.seed,
        "threads": torch.get_num_threads(),
        "optim_str_init": GCG_INIT,
        "not_allowed_ids": forbidden.nonzero()[:, 0].tolist(),
        **GCG_OPTIONS,
    }
    runner = str(Path(__file__).parent / "nanogcg_runner.py")
    out = subprocess.run(
        [str(NANOGCG_PYTHON), runner], input=json.dumps(job), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"nanogcg_runner failed: {out.stderr.strip()[-2000:]}")
    result = json.loads(out.stdout.splitlines()[-1])
    # Its text check is the reply only: the prompt rules are tailscope's verifier's.
    prompt_ok = bool(behavior.prompt_ok([result["prompt"]])[0])
    status = "success" if result["success"] and prompt_ok else "no_match"
    if result["success"] and not prompt_ok:
        status = "constraint_failed"
    return {**result, "success": status == "success", "status": status, "forward_tokens": None}


def measure(model, workspace: Workspace, unit: Unit, args, tmp: Path) -> dict:
    if unit.method == "nanogcg":
        outcome = run_nanogcg(model, unit, args, tmp)
    else:
        outcome = run_tailscope(model, workspace, unit, args)
    return {
        **vars(unit),
        "budget_s": args.budget_s,
        "candidate_constraints": args.constraints,
        "threads": torch.get_num_threads(),
        "code": args.code,
        **outcome,
    }


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summarize(rows: list[dict]) -> list[dict]:
    table = []
    groups = sorted({(r["set"], r["split"], r["method"], r["candidate_constraints"]) for r in rows})
    for group in groups:
        units = [
            r
            for r in rows
            if (r["set"], r["split"], r["method"], r["candidate_constraints"]) == group
        ]
        table.append(summary_row(group, units))
    return table


def summary_row(group: tuple, units: list[dict]) -> dict:
    wins = [r for r in units if r["success"]]
    low, high = binomial_interval(len(wins), len(units))
    wall = sum(r["elapsed_s"] for r in units)
    cpu_minutes = sum(r["elapsed_s"] * r["threads"] for r in units) / 60
    return {
        "set": group[0],
        "split": group[1],
        "method": group[2],
        "candidate_constraints": group[3],
        "units": len(units),
        "targets": len({r["target"] for r in units}),
        "seeds": sorted({r["seed"] for r in units}),
        "successes": len(wins),
        "success_rate": len(wins) / len(units),
        "wilson_95": [round(float(low), 3), round(float(high), 3)],
        "median_time_to_success_s": statistics.median(r["success_s"] for r in wins)
        if wins
        else None,
        "constraint_failed": sum(r["status"] == "constraint_failed" for r in units),
        "successes_per_cpu_minute": len(wins) / cpu_minutes if cpu_minutes else None,
        "steps_per_s": sum(r["steps"] for r in units) / wall if wall else None,
        "filter_share": sum(r.get("filter_s") or 0.0 for r in units) / wall if wall else None,
    }


def markdown(table: list[dict]) -> str:
    lines = [
        "| set | split | method | cand. constraints | successes | rate [95% CI] | "
        "median t-to-success (s) | constraint_failed | successes / CPU-min | steps/s | "
        "filter time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        median, filt = t["median_time_to_success_s"], t["filter_share"]
        low, high = t["wilson_95"]
        lines.append(
            f"| {t['set']} | {t['split']} | {t['method']} | {t['candidate_constraints']} | "
            f"{t['successes']}/{t['units']} | {t['success_rate']:.2f} [{low:.2f}, {high:.2f}] | "
            f"{'—' if median is None else f'{median:.1f}'} | {t['constraint_failed']} | "
            f"{t['successes_per_cpu_minute']:.2f} | {t['steps_per_s']:.2f} | "
            f"{'—' if filt is None else f'{filt:.1%}'} |"
        )
    return "\n".join(lines)


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True)
        return out.stdout.decode().strip() or "unknown"
    except OSError:
        return "unknown"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sets = available_sets()
    parser.add_argument("--set", nargs="+", default=sets, choices=sets)
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--methods", nargs="+", default=["arca", "gcg", "autoprompt", "nanogcg"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget-s", type=float, default=60.0, help="wall clock per unit")
    parser.add_argument("--limit", type=int, default=None, help="first N targets of each set")
    parser.add_argument(
        "--constraints",
        action="store_true",
        help="check the behavior's prompt detectors on every candidate (candidate_constraints)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS / "search-runs.jsonl")
    parser.add_argument("--code", default=git_revision(), help="label of the code measured")
    parser.add_argument("--summary-only", action="store_true", help="only summarize the file")
    return parser.parse_args()


def run_missing(args) -> None:
    done = {row_key(r) for r in read_rows(args.results)}
    todo = [u for u in plan(args) if u.key(args) not in done]
    print(f"{len(todo)} units to run ({len(done)} already in {args.results})", flush=True)
    if not todo:
        return
    model = load_model(DEFAULT_MODEL)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws")
        for unit in todo:
            row = measure(model, workspace, unit, args, Path(tmp))
            with args.results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{unit.method} {unit.set} {unit.target!r} seed {unit.seed}: {row['status']}")


def main() -> None:
    args = parse_args()
    if not args.summary_only:
        run_missing(args)
    table = summarize(read_rows(args.results))
    summary = args.results.with_suffix(".summary.json")
    summary.write_text(json.dumps(table, indent=2))
    print(markdown(table))
    print(f"\nrows in {args.results}, summary in {summary}")


if __name__ == "__main__":
    main()
