"""The labelled demonstration: each detector's error rates against human labels, the red-team
hit rates before and after correction, and the ensemble's uncertainty and abstention.

Every item of the runs was labelled (a census, not a queue), so each run's human rate is
known; the corrected rate uses the error rates measured on *all* runs scored by the same
detector kind, which is how a correction is used on a run whose items are not all labelled.

    .venv/bin/python benchmarks/review_demo.py --workspace review-demo-ws \
        --out benchmarks/results/review-demo-2026-12-02.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np
from machine_info import machine  # benchmarks/ is on sys.path when run as a script
from review_active_learning import finite
from review_pool import Pool, add_arguments, load_pool

from tailscope.errors import TailscopeError
from tailscope.review.calibration import calibrate, rate
from tailscope.review.uncertainty import evaluate, item_features
from tailscope.stats import binomial_interval, rogan_gladen, rogan_gladen_interval


def confusion(items, verdicts) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for item in items:
        if item.key not in verdicts:
            continue
        truth = verdicts[item.key]
        tp += item.flagged and truth
        fp += item.flagged and not truth
        fn += not item.flagged and truth
        tn += not item.flagged and not truth
    return tp, fp, fn, tn


def error_rates(c: tuple[int, int, int, int]) -> dict:
    tp, fp, fn, tn = c
    return {
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "precision": asdict(rate(tp, tp + fp, 0.95)),
        "recall": asdict(rate(tp, tp + fn, 0.95)),
        "fpr": asdict(rate(fp, fp + tn, 0.95)),
        "fnr": asdict(rate(fn, fn + tp, 0.95)),
    }


def by_detector(pool: Pool) -> dict[str, list]:
    groups = defaultdict(list)
    for item in pool.items:
        groups[item.behavior.detector].append(item)
    return dict(groups)


def detector_report(pool: Pool, items) -> dict:
    c = confusion(items, pool.verdicts)
    report = {"items": len(items), **error_rates(c)}
    try:
        (cal,) = calibrate(items, pool.labels)
        report["recalibration"] = {
            "method": cal.method,
            "brier_raw": cal.brier_raw,
            "brier_calibrated_cv": cal.brier_calibrated,
            "curve": cal.curve,
        }
    except TailscopeError as exc:
        report["recalibration"] = str(exc)
    return report


def run_report(pool: Pool, run_id: str, detector_confusion) -> dict:
    items = [item for item in pool.items if item.run_id == run_id]
    hits = sum(item.flagged for item in items)
    labelled = [item for item in items if item.key in pool.verdicts]
    human = sum(pool.verdicts[item.key] for item in labelled)
    tp, fp, fn, tn = detector_confusion
    corrected = float(rogan_gladen(hits / len(items), _ratio(tp, tp + fn), _ratio(tn, tn + fp)))
    low, high = rogan_gladen_interval(hits, len(items), detector_confusion)
    h_low, h_high = binomial_interval(human, len(labelled))
    return {
        "behavior": items[0].behavior.label,
        "detector": items[0].behavior.detector,
        "items": len(items),
        "unsure": len(items) - len(labelled),
        "raw_hit_rate": asdict(rate(hits, len(items), 0.95)),
        "corrected_hit_rate": {"value": corrected, "low": low, "high": high},
        "human_rate": {
            "numerator": human,
            "denominator": len(labelled),
            "value": human / len(labelled),
            "low": float(h_low),
            "high": float(h_high),
        },
        "own_error_rates": error_rates(confusion(items, pool.verdicts)),
    }


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def ensemble_report(pool: Pool, members: int, seed: int, detector: str | None = None) -> dict:
    """Over every labelled item, or those one detector kind scored."""
    items, y = pool.labelled()
    if detector is not None:
        keep = [i for i, item in enumerate(items) if item.behavior.detector == detector]
        items, y = [items[i] for i in keep], y[keep]
    try:
        e = evaluate(item_features(items), y, items, members, seed)
    except TailscopeError as exc:
        return {"error": str(exc)}
    result = asdict(e)
    # the curves at a readable resolution; the full ones stay in the JSON
    marks = np.linspace(0, len(e.coverage) - 1, 11).round().astype(int)
    result["risk_at"] = [
        {"coverage": e.coverage[i], "ensemble": e.risk[i], "detector": e.detector_risk[i]}
        for i in marks
    ]
    return result


def run(args) -> dict:
    pool = load_pool(args.workspace, args.labels)
    groups = by_detector(pool)
    detectors = {name: detector_report(pool, items) for name, items in groups.items()}
    pooled = {name: confusion(items, pool.verdicts) for name, items in groups.items()}
    run_ids = list(dict.fromkeys(item.run_id for item in pool.items))
    runs = {
        run_id: run_report(pool, run_id, pooled[_detector_of(pool, run_id)]) for run_id in run_ids
    }
    return {
        "machine": machine(),
        "labels": {
            "file": _shown(args.labels),
            "items": len(pool.items),
            "present": sum(pool.verdicts.values()),
            "absent": sum(not v for v in pool.verdicts.values()),
            "unsure": len(pool.items) - len(pool.verdicts),
            "labellers": sorted({lb.labeller for lb in pool.labels}),
        },
        "detectors": detectors,
        "runs": runs,
        "ensemble": ensemble_report(pool, args.members, args.seed),
        "ensemble_by_detector": {
            name: ensemble_report(pool, args.members, args.seed, name) for name in groups
        },
    }


def _shown(path: Path) -> str:
    """The labels file relative to the repository where it lies inside it."""
    root = Path(__file__).resolve().parent.parent
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def _detector_of(pool: Pool, run_id: str) -> str:
    return next(item.behavior.detector for item in pool.items if item.run_id == run_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = run(args)
    args.out.write_text(json.dumps(finite(result), indent=1, allow_nan=False) + "\n")
    for run_id, r in result["runs"].items():
        raw, cor, hum = r["raw_hit_rate"], r["corrected_hit_rate"], r["human_rate"]
        print(
            f"{run_id} {r['behavior']} [{r['detector']}]: raw {raw['value']:.3f} "
            f"corrected {cor['value']:.3f} [{cor['low']:.3f}, {cor['high']:.3f}] "
            f"human {hum['value']:.3f}"
        )
    e = result["ensemble"]
    if "error" not in e:
        print(
            f"ensemble: AURC {e['aurc']:.4f} (detector {e['detector_aurc']:.4f}), "
            f"Spearman(disagreement, error) {e['disagreement_error_spearman']:.3f}"
        )


if __name__ == "__main__":
    main()
