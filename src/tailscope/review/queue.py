"""The review queue: a run's items filtered by run, behavior, detector and the ensemble's
abstain band, ordered by a strategy, with labelling progress and the agreement between
labellers."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass

from tailscope.review.items import ReviewItem
from tailscope.review.uncertainty import ItemUncertainty
from tailscope.store import Label

ORDERS = ("uncertainty", "disagreement", "ensemble", "random")
Uncertainties = dict[tuple, ItemUncertainty]


@dataclass(frozen=True)
class Filters:
    run: str = ""
    behavior: str = ""
    detector: str = ""
    abstain: bool = False  # only the items the ensemble would defer to a human

    def keep(self, item: ReviewItem, uncertainty: Uncertainties | None = None) -> bool:
        return (
            (not self.run or item.run_id == self.run)
            and (not self.behavior or item.behavior.label == self.behavior)
            and (not self.detector or item.behavior.detector == self.detector)
            and (not self.abstain or uncertainty is None or uncertainty[item.key].abstain)
        )


@dataclass(frozen=True)
class Progress:
    total: int
    labelled_by_you: int
    labelled_by_anyone: int
    multiply_labelled: int  # items two or more labellers judged
    pair_agreement: float | None  # share of labeller pairs on one item that agree
    detector_agreement: float | None  # share of present/absent labels matching the detector


def labels_by_item(labels: list[Label]) -> dict[tuple, list[Label]]:
    grouped: dict[tuple, list[Label]] = defaultdict(list)
    for label in labels:
        grouped[(label.run_id, label.item_kind, label.item_idx)].append(label)
    return grouped


def ordered(
    items: list[ReviewItem],
    labels: dict[tuple, list[Label]],
    order: str,
    seed: int = 0,
    uncertainty: Uncertainties | None = None,
) -> list[ReviewItem]:
    """uncertainty: scores nearest the detector's threshold first. disagreement: items whose
    labellers disagree first, then those where a label contradicts the detector, then by
    uncertainty. ensemble: the items the ensemble abstains on first, then by its members'
    disagreement, largest first (uncertainty order until the ensemble can be trained).
    random: a shuffle fixed by `seed`."""
    if order == "random":
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    if order == "disagreement":
        return sorted(items, key=lambda item: _disagreement_key(item, labels.get(item.key, [])))
    if order == "ensemble" and uncertainty is not None:
        return sorted(items, key=lambda item: _ensemble_key(uncertainty[item.key]))
    return sorted(items, key=_uncertainty)


def _ensemble_key(u: ItemUncertainty) -> tuple:
    return (not u.abstain, -u.spread, abs(u.mean - 0.5))


def _uncertainty(item: ReviewItem) -> float:
    return abs(item.score - item.behavior.threshold)


def _disagreement_key(item: ReviewItem, labels: list[Label]) -> tuple:
    definite = {lb.label for lb in labels if lb.label != "unsure"}
    contradicts = any(_contradicts(item, lb) for lb in labels)
    return (-len(definite), not contradicts, _uncertainty(item))


def _contradicts(item: ReviewItem, label: Label) -> bool:
    return label.label != "unsure" and (label.label == "present") != item.flagged


def next_item(
    queue: list[ReviewItem], labels: dict[tuple, list[Label]], labeller: str
) -> ReviewItem | None:
    """The first item in queue order this labeller has not labelled yet."""
    for item in queue:
        if all(lb.labeller != labeller for lb in labels.get(item.key, [])):
            return item
    return None


def progress(queue: list[ReviewItem], labels: dict[tuple, list[Label]], labeller: str) -> Progress:
    mine = anyone = multiple = agreeing_pairs = pairs = matching = definite = 0
    for item in queue:
        item_labels = labels.get(item.key, [])
        mine += any(lb.labeller == labeller for lb in item_labels)
        anyone += bool(item_labels)
        multiple += len(item_labels) >= 2
        for a, b in itertools.combinations(item_labels, 2):
            pairs += 1
            agreeing_pairs += a.label == b.label
        for lb in item_labels:
            if lb.label != "unsure":
                definite += 1
                matching += not _contradicts(item, lb)
    return Progress(
        total=len(queue),
        labelled_by_you=mine,
        labelled_by_anyone=anyone,
        multiply_labelled=multiple,
        pair_agreement=agreeing_pairs / pairs if pairs else None,
        detector_agreement=matching / definite if definite else None,
    )
