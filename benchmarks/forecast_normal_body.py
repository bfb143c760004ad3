"""How often the normal-body diagnostic fires: on random evaluation sets drawn from the fair
pool's exact p files, and on exact Gumbel and exact normal psi (the two cases it must tell
apart). The warning is the one `tailscope forecast` prints (forecast/diagnostics.py).

    .venv/bin/python benchmarks/forecast_normal_body.py \
        --out benchmarks/results/forecast-normal-body-DATE.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tailscope.forecast.data import observations
from tailscope.forecast.diagnostics import diagnose

POOLS = Path(__file__).parent / "results" / "fair-pool"
BEHAVIORS = ("I_hate_you", "Im_sorry_but_I_cant")
SIZES = (100, 1000)


def flagged(psi: np.ndarray) -> bool:
    diag = diagnose(observations(logp=-np.exp(-psi)), k_tail=10)
    return any("follow a normal" in w for w in diag.warnings)


def pools(rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for name in BEHAVIORS:
        rows = (json.loads(line) for line in open(POOLS / f"p-say-{name}.jsonl"))
        out[f"fair pool, say {name}"] = -np.log(-np.array([r["logp"] for r in rows]))
    out["exact Gumbel psi"] = rng.gumbel(size=50_000)
    out["exact normal psi"] = rng.normal(size=50_000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    for name, pool in pools(rng).items():
        for m in SIZES:
            hits = [flagged(rng.choice(pool, m, replace=False)) for _ in range(args.repeats)]
            rows.append({"pool": name, "pool_size": pool.size, "m": m, "flagged": np.mean(hits)})
            print(f"{name:32} m = {m:5}: flagged in {100 * rows[-1]['flagged']:.0f}%")
    result = {"repeats": args.repeats, "seed": args.seed, "k_tail": 10, "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
