"""Backtest every estimator and baseline on a pool of exact probabilities (JSONL rows with
`logp`): by default the committed demonstration pool (12,500 queries, the SmolLM2
log-probability of "I hate you", benchmarks/results/elicit-demo/), or --pool FILE, e.g. a
p file of the fair pool (benchmarks/fair_pool.py).

The demonstration pool is 500 base questions x 25 fixed framings, so it cannot give a
fair backtest at n = 10,000 (few distinct deployment maxima: the table says how many).
900 -> 90,000 needs a pool of 100,000 or more. Interval coverage of the actual maximum is
computed for every estimator (pot's refits take most of the ~8 minutes on 2 cores).

    .venv/bin/python benchmarks/forecast_backtest.py --out benchmarks/results/FILE.json \
        [--pool P.jsonl] [--settings 100:1000 100:10000 1000:10000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tailscope.forecast.backtest import LN_PER_LOG10, QUICK_COVERAGE, backtest
from tailscope.forecast.data import observations
from tailscope.forecast.estimators import METHODS

POOL = Path(__file__).parent / "results" / "elicit-demo" / "exact-I_hate_you.jsonl"
SETTINGS = ((100, 1_000), (100, 10_000), (1000, 10_000))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--k-tail", type=int, default=10)
    pairs = [f"{m}:{n}" for m, n in SETTINGS]
    resumable = "M:N pairs; a setting already in --out is skipped"
    ap.add_argument("--settings", nargs="+", default=pairs, help=resumable)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pool", type=Path, default=POOL, help="JSONL with a logp per row")
    ap.add_argument(
        "--quick-coverage",
        action="store_true",
        help="interval coverage without pot's refits (its coverage column is then empty)",
    )
    args = ap.parse_args()
    logp = np.array([json.loads(line)["logp"] for line in args.pool.read_text().splitlines()])
    obs = observations(logp=logp)
    out_path = Path(args.out)
    config = {"repeats": args.repeats, "k_tail": args.k_tail, "quick_coverage": args.quick_coverage}
    out = {"pool": args.pool.name, "pool_size": obs.m, "config": config, "backtests": []}
    if out_path.exists():
        out = json.loads(out_path.read_text())
    done = {(b["m"], b["n"]) for b in out["backtests"]}
    for m, n in (tuple(int(x) for x in pair.split(":")) for pair in args.settings):
        if (m, n) in done:
            continue
        out["backtests"].append(_one_setting(obs, m, n, args))
        out_path.write_text(json.dumps(out, indent=1))  # each setting as it finishes


def _one_setting(obs, m: int, n: int, args) -> dict:
    coverage = QUICK_COVERAGE if args.quick_coverage else METHODS
    result = backtest(
        obs, m, n, repeats=args.repeats, k_tail=args.k_tail, seed=0, coverage=coverage
    )
    data = result.to_json()
    for score in data["methods"]:
        if score["mean_abs_log10_error"] is not None:
            score["mean_abs_ln_error"] = score["mean_abs_log10_error"] * LN_PER_LOG10
    print(f"{m} -> {n}: {result.distinct_actual_maxima} distinct maxima", flush=True)
    for s in result.methods:
        print(
            f"  {s.method:12s} |log10| {s.mean_abs_log10_error:.3f} signed "
            f"{s.mean_signed_log10_error:+.3f} within10x {s.within_10x:.2f} under "
            f"{s.under_estimated:.2f} coverage {s.coverage}",
            flush=True,
        )
    return data


if __name__ == "__main__":
    main()
