"""Backtest every estimator and baseline on a pool of exact probabilities (JSONL rows with
`logp`): by default the committed demonstration pool (12,500 queries, the SmolLM2
log-probability of "I hate you", benchmarks/results/elicit-demo/), or --pool FILE, e.g. a
p file of the fair pool (benchmarks/fair_pool.py).

The demonstration pool is 500 base questions x 25 fixed framings, so it cannot give a
fair backtest at n = 10,000 (few distinct deployment maxima: the table says how many).
900 -> 90,000 needs a pool of 100,000 or more. Interval coverage of the actual maximum is
computed for every estimator (pot's refits take most of the ~8 minutes on 2 cores).

    .venv/bin/python benchmarks/forecast_backtest.py --out benchmarks/results/FILE.json \
        [--pool P.jsonl] [--settings 100:1000 100:10000 1000:10000] [--markdown LABEL]

With --markdown, it prints the rows of the docs/benchmarks.md table from --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tailscope.forecast.backtest import LN_PER_LOG10, QUICK_COVERAGE, backtest
from tailscope.forecast.data import observations
from tailscope.forecast.estimators import DEFAULT_ESTIMATOR, METHODS

POOL = Path(__file__).parent / "results" / "elicit-demo" / "exact-I_hate_you.jsonl"
SETTINGS = ((100, 1_000), (100, 10_000), (1000, 10_000))
LIMIT = 3  # the plot's error axis, in decades


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
    ap.add_argument("--plot", type=Path, help="PNG of every method's signed errors per setting")
    ap.add_argument("--markdown", metavar="LABEL", help="print the docs table's rows for LABEL")
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
    if args.plot:
        error_figure(out).savefig(args.plot, dpi=130)
    if args.markdown:
        print("\n".join(markdown_rows(out, args.markdown)))


def _one_setting(obs, m: int, n: int, args) -> dict:
    coverage = QUICK_COVERAGE if args.quick_coverage else METHODS
    result = backtest(
        obs, m, n, repeats=args.repeats, k_tail=args.k_tail, seed=0, coverage=coverage
    )
    data = result.to_json(with_errors=True)
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


def markdown_rows(out: dict, label: str) -> list[str]:
    """The rows of docs/benchmarks.md's backtest tables, default estimator in bold."""

    def number(x, signed=False):
        return "-" if x is None else (f"{x:+.2f}" if signed else f"{x:.2f}").replace("-", "−")

    def percent(x):
        return "-" if x is None else f"{100 * x:.0f}%"

    rows = []
    for b in out["backtests"]:
        setting = f"{b['m']:,} → {b['n']:,} ({b['distinct_actual_maxima']})"
        for s in b["methods"]:
            name = f"**{s['method']}**" if s["method"] == DEFAULT_ESTIMATOR else s["method"]
            cells = [label, setting, name, number(s["mean_abs_log10_error"])]
            cells += [
                number(s["mean_signed_log10_error"], True),
                number(s.get("mean_abs_ln_error")),
            ]
            cells += [percent(s[key]) for key in ("within_10x", "under_estimated", "coverage")]
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def error_figure(out: dict):
    """One panel per m -> n: the signed log10 errors of each method's forecasts, as boxes
    (the whiskers span 5%-95%), with the 10x band shaded."""
    from matplotlib.figure import Figure

    settings = [b for b in out["backtests"] if b["methods"][0].get("errors")]
    fig = Figure(figsize=(3.6 * len(settings), 3.4))
    axes = fig.subplots(1, len(settings), sharey=True, squeeze=False)[0]
    for ax, b in zip(axes, settings, strict=True):
        names = [s["method"] for s in b["methods"] if s["errors"]]
        errors = [s["errors"] for s in b["methods"] if s["errors"]]
        ax.axhspan(-1, 1, color="#eeeeee", zorder=0)
        ax.axhline(0, color="black", lw=0.8)
        ax.boxplot(errors, whis=(5, 95), showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=40, ha="right", fontsize=8)
        ax.set_ylim(-LIMIT, LIMIT)
        for x, e in enumerate(errors, start=1):  # a box off the scale gets its median written
            median = float(np.median(e))
            if abs(median) > LIMIT:
                y = np.sign(median) * (LIMIT - 0.3)
                ax.annotate(f"median {median:+.1f}", (x, y), ha="center", fontsize=7)
        ax.set_title(
            f"{b['m']:,} -> {b['n']:,} ({b['distinct_actual_maxima']} distinct maxima)",
            fontsize=9,
        )
    axes[0].set_ylabel("log10(forecast / actual max p)")
    fig.suptitle(f"Backtest on {out['pool']} ({out['pool_size']:,} queries)", fontsize=10)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
