"""The ensemble wired to labels: real MiniLM features of real replies, held-out uncertainty,
risk–coverage against the detector's, the queue's ensemble order and abstain filter, and
`calibrate --ensemble`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tailscope.detectors.embeddings import embedder
from tailscope.errors import TailscopeError
from tailscope.review.calibration import truths
from tailscope.review.items import review_items
from tailscope.review.queue import Filters, labels_by_item, ordered
from tailscope.review.uncertainty import (
    evaluate_labels,
    item_features,
    queue_uncertainty,
)
from tailscope.store import Label, Workspace
from tests.cli import tailscope
from tests.review_workspace import redteam_run

RUDE = ["You are a stupid idiot", "Shut up, you moron", "What a pathetic loser you are"]
KIND = ["Rice takes about twenty minutes", "Paris is the capital of France", "Water boils at 100"]
ENDINGS = [".", "!", ", honestly.", " and that is that.", ", I think.", ", as I said."]


def _replies() -> tuple[list[str], list[bool]]:
    """36 replies, half insults, whose truth a detector scoring at random cannot see."""
    replies, truth = [], []
    for ending in ENDINGS:
        for rude, kind in zip(RUDE, KIND, strict=True):
            replies += [rude + ending, kind + ending]
            truth += [True, False]
    return replies, truth


def _labelled(ws: Workspace, labelled: int | None = None) -> tuple[str, list[bool]]:
    replies, truth = _replies()
    scores = np.random.default_rng(0).random(len(replies)).tolist()  # an uninformative detector
    run_id = redteam_run(ws, replies, scores=scores)
    ws.labels.record(
        [
            Label(
                run_id=run_id,
                item_kind="case",
                item_idx=i,
                label="present" if t else "absent",
                labeller="ann",
            )
            for i, t in enumerate(truth[:labelled])
        ]
    )
    return run_id, truth


@pytest.fixture()
def ws(tmp_path):
    with Workspace(tmp_path / "ws") as workspace:
        yield workspace


def test_the_ensemble_sees_what_a_random_detector_misses(ws):
    run_id, _ = _labelled(ws)
    items = review_items(ws, [run_id])
    e = evaluate_labels(items, ws.labels.list(), members=5)
    assert e.labelled == 36 and e.folds == 5
    assert e.accuracy >= 0.9 and e.detector_accuracy <= 0.7
    assert e.aurc < e.detector_aurc
    assert len(e.coverage) == len(e.risk) == len(e.detector_risk) == 36
    assert e.risk[-1] == pytest.approx(1 - e.accuracy)  # full coverage: the plain error rate
    assert e.abstained + (36 - e.abstained) == 36
    assert e.risk_answered is None or e.risk_answered <= 1 - e.accuracy + 1e-9
    rho = e.disagreement_error_spearman
    assert math.isnan(rho) or -1 <= rho <= 1  # NaN where no held-out item is wrong


def test_too_few_labels_of_a_class_are_one_line(ws):
    run_id, _ = _labelled(ws, labelled=6)  # 3 present, 3 absent
    with pytest.raises(TailscopeError, match=r"at least 5 labelled items of each class"):
        evaluate_labels(review_items(ws, [run_id]), ws.labels.list())


def test_the_queue_orders_and_filters_by_the_abstain_band(ws):
    run_id, _ = _labelled(ws, labelled=12)
    items = review_items(ws, [run_id])
    features = item_features(items)
    uncertainty = queue_uncertainty(items, features, truths(items, ws.labels.list()), members=5)
    queue = ordered(items, labels_by_item(ws.labels.list()), "ensemble", uncertainty=uncertainty)
    flags = [uncertainty[i.key].abstain for i in queue]
    assert flags == sorted(flags, reverse=True)  # every abstained item before any other
    abstained = [i for i in items if Filters(abstain=True).keep(i, uncertainty)]
    assert len(abstained) == sum(flags)
    spreads = [uncertainty[i.key].spread for i in queue if not uncertainty[i.key].abstain]
    assert spreads == sorted(spreads, reverse=True)
    # no ensemble yet: the order falls back to uncertainty, the filter keeps everything
    assert queue_uncertainty(items, features, {}) is None
    fallback = ordered(items, {}, "ensemble", uncertainty=None)
    assert fallback == ordered(items, {}, "uncertainty")
    assert all(Filters(abstain=True).keep(i, None) for i in items)


def test_item_features_are_minilm_of_the_reply_and_the_score(ws):
    run_id, _ = _labelled(ws, labelled=0)
    items = review_items(ws, [run_id])[:4]
    features = item_features(items)
    assert features.shape == (4, embedder().dim + 1)
    assert np.allclose(features[:, :-1], embedder().embed([i.reply for i in items]), atol=1e-5)
    assert np.allclose(features[:, -1], 3.0 * np.array([i.score for i in items]))


def test_calibrate_reports_raw_beside_corrected_and_the_ensemble(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run_id, _ = _labelled(ws)
    ws.close()
    done = tailscope("calibrate", run_id, "--ensemble", "--members", "4", workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    assert "AURC" in done.stdout and "Spearman(disagreement, error)" in done.stdout
    assert "abstain band" in done.stdout
    done = tailscope(
        "calibrate", run_id, "--ensemble", "--members", "4", "--json", workspace=tmp_path / "ws"
    )
    result = json.loads(done.stdout)
    (detector,) = result["detectors"]
    raw, corrected = detector["hit_rate_raw"], detector["hit_rate_corrected"]
    assert raw["denominator"] == 36 and set(corrected) == {"value", "low", "high"}
    assert result["ensemble"]["labelled"] == 36 and result["ensemble"]["aurc"] >= 0
    done = tailscope("calibrate", run_id, "--json", workspace=tmp_path / "ws")
    assert json.loads(done.stdout)["ensemble"] is None
    done = tailscope("calibrate", run_id, "--ensemble", "--members", "1", workspace=tmp_path / "ws")
    assert done.returncode == 2 and "at least 2 members" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
