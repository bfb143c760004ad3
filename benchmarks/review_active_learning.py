"""Active learning against random sampling on one labelled pool, at equal numbers of labels.

The labelled items (MiniLM features of the reply and the detector's score, the human verdict)
are split, per repetition, into a test third and an unlabelled pool (stratified). Every
strategy starts from the same random seed set and buys labels from the pool in batches; after
each batch the bagged ensemble is refitted and scored on the test third. Strategies:
`random`, `disagreement` (the members' largest standard deviation: epistemic uncertainty,
Gleave & Irving 2022) and `margin` (the mean P(present) nearest 0.5). Whichever wins is
reported; so is how well the members' disagreement tracks the test errors at each size.

    .venv/bin/python benchmarks/review_active_learning.py --workspace review-demo-ws \
        --out benchmarks/results/review-active-learning-2026-12-02.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from machine_info import machine  # benchmarks/ is on sys.path when run as a script
from review_pool import add_arguments, load_pool
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tailscope.review.ensemble import BaggedEnsemble, uncertainty_error_correlation

STRATEGIES = ("random", "disagreement", "margin")


def learning_curve(x, y, train, test, strategy, args, rng) -> list[dict]:
    """One strategy from one seed set: the test scores after each batch of labels."""
    labelled = list(train[: args.start])
    unlabelled = list(train[args.start :])
    curve = []
    while True:
        model = BaggedEnsemble(args.members, seed=len(labelled)).fit(x[labelled], y[labelled])
        mean, spread = model.predict(x[test])
        errors = ((mean >= 0.5).astype(int) != y[test]).astype(float)
        curve.append(
            {
                "labels": len(labelled),
                "auroc": float(roc_auc_score(y[test], mean)),
                "error": float(errors.mean()),
                "brier": float(np.mean((mean - y[test]) ** 2)),
                "disagreement_error_spearman": uncertainty_error_correlation(spread, errors),
            }
        )
        if len(labelled) >= args.max_labels or not unlabelled:
            return curve
        chosen = _choose(model, x, unlabelled, strategy, min(args.batch, len(unlabelled)), rng)
        labelled += chosen
        bought = set(chosen)
        unlabelled = [i for i in unlabelled if i not in bought]


def _choose(model, x, unlabelled, strategy, k, rng) -> list[int]:
    if strategy == "random":
        return [int(i) for i in rng.choice(unlabelled, size=k, replace=False)]
    mean, spread = model.predict(x[unlabelled])
    priority = spread if strategy == "disagreement" else -np.abs(mean - 0.5)
    return [unlabelled[i] for i in np.argsort(-priority, kind="stable")[:k]]


def seed_order(y, train, start, rng) -> np.ndarray:
    """The pool shuffled so that its first `start` items hold both classes."""
    while True:
        order = rng.permutation(train)
        if 0 < y[order[:start]].sum() < start:
            return order


def run(args) -> dict:
    pool = load_pool(args.workspace, args.labels)
    items, x, y = pool.features()
    curves = {s: [] for s in STRATEGIES}
    for repetition in range(args.repetitions):
        train, test = train_test_split(
            np.arange(len(y)), test_size=1 / 3, stratify=y, random_state=repetition
        )
        train = seed_order(y, train, args.start, np.random.default_rng(repetition))
        for strategy in STRATEGIES:
            rng = np.random.default_rng(1000 + repetition)
            curves[strategy].append(learning_curve(x, y, train, test, strategy, args, rng))
    return {
        "machine": machine(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "pool": {"labelled": len(y), "present": int(y.sum()), "runs": _runs(items)},
        "summary": {s: _summary(c) for s, c in curves.items()},
        "curves": curves,
    }


def _runs(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.run_id] = counts.get(item.run_id, 0) + 1
    return counts


def _summary(curves: list[list[dict]]) -> list[dict]:
    """Mean and standard deviation over repetitions at each number of labels."""
    rows = []
    for step in range(min(len(c) for c in curves)):
        points = [c[step] for c in curves]
        row = {"labels": points[0]["labels"]}
        for key in ("auroc", "error", "brier", "disagreement_error_spearman"):
            values = [p[key] for p in points if not math.isnan(p[key])]
            row[key] = float(np.mean(values)) if values else None
            row[f"{key}_sd"] = float(np.std(values)) if values else None
        rows.append(row)
    return rows


def plot(result: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, key, title in zip(
        axes,
        ("auroc", "brier", "disagreement_error_spearman"),
        (
            "test AUROC (higher is better)",
            "test Brier score (lower is better)",
            "Spearman(disagreement, test error)",
        ),
        strict=True,
    ):
        for strategy, rows in result["summary"].items():
            xs = [r["labels"] for r in rows if r[key] is not None]
            ys = np.array([r[key] for r in rows if r[key] is not None])
            sd = np.array([r[f"{key}_sd"] for r in rows if r[key] is not None])
            ax.plot(xs, ys, label=strategy)
            top = 1.0 if key == "auroc" else np.inf  # a band of ±1 sd, kept inside the scale
            ax.fill_between(xs, ys - sd, np.minimum(ys + sd, top), alpha=0.15)
        ax.set_xlabel("labels bought")
        ax.set_title(title, fontsize=9)
    axes[0].legend(frameon=False)
    fig.suptitle(f"Active learning vs random, {result['settings']['repetitions']} repetitions")
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--start", type=int, default=10, help="random labels to start from")
    parser.add_argument("--batch", type=int, default=10, help="labels bought per round")
    parser.add_argument("--max-labels", type=int, default=200)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True, help="results JSON (and .png)")
    args = parser.parse_args()
    result = run(args)
    args.out.write_text(json.dumps(finite(result), indent=1, allow_nan=False) + "\n")
    plot(result, args.out.with_suffix(".png"))
    for strategy, rows in result["summary"].items():
        marks = [r for r in rows if r["labels"] in (args.start, 50, 100, 150, args.max_labels)]
        line = ", ".join(f"{r['labels']}: AUROC {r['auroc']:.3f}" for r in marks)
        print(f"{strategy:13s} {line}")


def finite(value):
    """NaN (an undefined correlation) is not JSON: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


if __name__ == "__main__":
    main()
