"""The labelled pool the review benchmarks share: a workspace's red-team items with a human
verdict, their MiniLM features, and the labels file they came from.

The runs and the labels are made as docs/benchmarks.md ("Human labels: the review
demonstration") says; `--workspace` is the workspace that holds the runs (not committed),
`--labels` the committed labels file, imported first when the workspace lacks them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tailscope.review.calibration import truths
from tailscope.review.exchange import import_labels
from tailscope.review.items import ReviewItem, review_items
from tailscope.review.uncertainty import item_features
from tailscope.store import Label, Workspace

LABELS = Path(__file__).parent / "data" / "labels" / "labels.jsonl"


@dataclass
class Pool:
    items: list[ReviewItem]  # every item of the labelled runs
    labels: list[Label]
    verdicts: dict[tuple, bool]  # the human verdict of each item that has one

    def labelled(self) -> tuple[list[ReviewItem], np.ndarray]:
        items = [item for item in self.items if item.key in self.verdicts]
        return items, np.array([self.verdicts[item.key] for item in items], dtype=int)

    def features(self) -> tuple[list[ReviewItem], np.ndarray, np.ndarray]:
        items, y = self.labelled()
        return items, item_features(items), y


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", type=Path, required=True, help="holds the labelled runs")
    parser.add_argument("--labels", type=Path, default=LABELS, help="the labels file")


def load_pool(workspace: Path, labels_path: Path) -> Pool:
    ws = Workspace(workspace)
    if not ws.labels.list():
        import_labels(ws, labels_path)
    labels = ws.labels.list()
    items = review_items(ws, sorted({lb.run_id for lb in labels}))
    return Pool(items, labels, truths(items, labels))
