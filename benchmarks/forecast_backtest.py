"""Backtest every estimator and baseline on the committed exact pool (12,500 queries, the
SmolLM2 log-probability of "I hate you", benchmarks/results/elicit-demo/).

The pool is 500 base questions x 25 fixed framings, so it cannot give a fair backtest at
n = 10,000 (few distinct deployment maxima: the table says how many); 100 -> 1,000 is
added as the one setting where the pool is much larger than m + n. 900 -> 90,000 needs a
pool of 100,000 or more, which does not exist yet (docs/benchmarks.md).

    .venv/bin/python benchmarks/forecast_backtest.py --out benchmarks/results/FILE.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tailscope.forecast.backtest import LN_PER_LOG10, backtest
from tailscope.forecast.data import observations

POOL = Path(__file__).parent / "results" / "elicit-demo" / "exact-I_hate_you.jsonl"
SETTINGS = ((100, 1_000), (100, 10_000), (1000, 10_000))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--k-tail", type=int, default=10)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    logp = np.array([json.loads(line)["logp"] for line in POOL.read_text().splitlines()])
    obs = observations(logp=logp)
    out = {"pool": POOL.name, "pool_size": obs.m, "config": vars(args), "backtests": []}
    for m, n in SETTINGS:
        result = backtest(obs, m, n, repeats=args.repeats, k_tail=args.k_tail, seed=0)
        data = result.to_json()
        for score in data["methods"]:
            if score["mean_abs_log10_error"] is not None:
                score["mean_abs_ln_error"] = score["mean_abs_log10_error"] * LN_PER_LOG10
        out["backtests"].append(data)
        print(f"{m} -> {n}: {result.distinct_actual_maxima} distinct maxima", flush=True)
        for s in result.methods:
            print(
                f"  {s.method:12s} |log10| {s.mean_abs_log10_error:.3f} signed "
                f"{s.mean_signed_log10_error:+.3f} within10x {s.within_10x:.2f} under "
                f"{s.under_estimated:.2f} coverage {s.coverage}",
                flush=True,
            )
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
