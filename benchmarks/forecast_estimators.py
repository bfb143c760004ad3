"""Bias, error and interval coverage of each tail estimator where its model holds exactly.

psi is standard exponential (a Gumbel-type tail; every estimator here is location- and
scale-equivariant, so one tail stands for all), the true worst of n is Q_psi(n) = log n,
and errors are in units of the tail scale. Each setting draws `--repeats` evaluation sets
of m; the peaks-over-threshold interval refits per draw, so its coverage uses fewer.

    .venv/bin/python benchmarks/forecast_estimators.py --out benchmarks/results/FILE.json
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from tailscope.forecast.backtest import forecast_rows
from tailscope.forecast.data import Observations
from tailscope.forecast.estimators import ESTIMATORS

SETTINGS = ((100, 10_000), (1000, 10_000), (900, 90_000))
NAMES = ("expected", "paper", "pot", "log-normal", "eval-max", "fixed-slope")


def coverage(name: str, rows: np.ndarray, n: int, k_tail: int, confidence: float) -> float | None:
    est = ESTIMATORS.get(name)
    if est is None or est.interval is None:
        return None
    ns = np.array([float(n)])
    held = []
    for seed, row in enumerate(rows):
        model = est.fit(Observations(row, 0, 0, None), k_tail)
        low, high = est.interval(model, ns, 1000, confidence, seed)
        held.append(low[0] <= math.log(n) <= high[0])
    return float(np.mean(held))


def one_setting(m: int, n: int, args) -> dict:
    rng = np.random.default_rng(args.seed)
    rows = rng.exponential(size=(args.repeats, m))
    out = {"m": m, "n": n, "k_tail": args.k_tail, "repeats": args.repeats, "methods": {}}
    for name in NAMES:
        start = time.perf_counter()
        error = forecast_rows(name, rows, args.k_tail, n) - math.log(n)
        ok = ~np.isnan(error)
        few = rows[: args.repeats if name in ("paper", "expected") else args.pot_repeats]
        out["methods"][name] = {
            "mean_error": float(np.mean(error[ok])),
            "median_error": float(np.median(error[ok])),
            "mean_abs_error": float(np.mean(np.abs(error[ok]))),
            "forecasts": int(ok.sum()),
            "coverage": coverage(name, few, n, args.k_tail, args.confidence),
            "coverage_repeats": len(few),
            "seconds": round(time.perf_counter() - start, 2),
        }
        print(m, n, name, out["methods"][name], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=1000)
    ap.add_argument("--pot-repeats", type=int, default=200)
    ap.add_argument("--k-tail", type=int, default=10)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    results = {"config": vars(args), "settings": [one_setting(m, n, args) for m, n in SETTINGS]}
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
