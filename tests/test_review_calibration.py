"""Calibration from labels: error rates with intervals, a recalibrated score, the threshold for
a wanted precision or recall, and Rogan–Gladen's corrected hit rate with an interval that
carries the uncertainty of the detector's error rates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailscope.errors import TailscopeError
from tailscope.review.calibration import calibrate, threshold_for
from tailscope.review.items import review_items
from tailscope.stats import binomial_interval, rogan_gladen, rogan_gladen_interval
from tailscope.store import Label, Workspace
from tests.cli import tailscope
from tests.review_workspace import redteam_run


def test_rogan_gladen_inverts_a_known_detector():
    true_rate, se, sp = 0.2, 0.8, 0.9
    observed = true_rate * se + (1 - true_rate) * (1 - sp)
    assert rogan_gladen(observed, se, sp) == pytest.approx(true_rate)
    assert rogan_gladen(0.3, 1.0, 1.0) == pytest.approx(0.3)  # a perfect detector
    assert rogan_gladen(0.01, 0.8, 0.9) == 0.0  # below the false-positive floor: clipped
    assert np.isnan(rogan_gladen(0.3, 0.5, 0.5))  # no better than chance


def test_the_corrected_interval_covers_the_true_rate_and_carries_the_error_rates():
    """200 simulated audits: 400 items at a true rate of 0.2 seen through a detector with
    sensitivity 0.8 and specificity 0.9, measured on 60 labelled positives and 60 negatives."""
    rng = np.random.default_rng(1)
    true_rate, se, sp, n, per_class = 0.2, 0.8, 0.9, 400, 60
    covered = 0
    for _ in range(200):
        truth = rng.random(n) < true_rate
        flagged = np.where(truth, rng.random(n) < se, rng.random(n) < 1 - sp)
        tp = int(rng.binomial(per_class, se))
        tn = int(rng.binomial(per_class, sp))
        confusion = (tp, per_class - tn, per_class - tp, tn)
        low, high = rogan_gladen_interval(int(flagged.sum()), n, confusion, draws=4000)
        covered += low <= true_rate <= high
    assert covered / 200 >= 0.92
    # the same observed rate with error rates known from fewer labels: a wider interval
    wide = rogan_gladen_interval(100, 400, (12, 1, 3, 14))
    narrow = rogan_gladen_interval(100, 400, (240, 10, 60, 290))
    plain = binomial_interval(100, 400)
    assert wide[1] - wide[0] > narrow[1] - narrow[0] > float(plain[1] - plain[0])


def _labelled_run(ws: Workspace, truth, scores, labelled: int) -> str:
    run_id = redteam_run(ws, [f"reply {i}" for i in range(len(scores))], scores=list(scores))
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
    return run_id


@pytest.fixture()
def ws(tmp_path):
    with Workspace(tmp_path / "ws") as workspace:
        yield workspace


def test_error_rates_at_the_threshold_match_the_labels(ws):
    rng = np.random.default_rng(0)
    truth = rng.random(60) < 0.4
    scores = np.clip(np.where(truth, rng.normal(0.7, 0.2, 60), rng.normal(0.3, 0.2, 60)), 0, 1)
    run_id = _labelled_run(ws, truth, scores, labelled=50)
    ws.labels.record(  # a second labeller: a tie on item 0 leaves it without a verdict
        [
            Label(
                run_id=run_id,
                item_kind="case",
                item_idx=0,
                label="absent" if truth[0] else "present",
                labeller="bo",
            )
        ]
    )
    (result,) = calibrate(review_items(ws, [run_id]), ws.labels.list(), target=("precision", 0.9))
    flagged, known = scores[1:50] >= 0.5, truth[1:50]
    tp, fp = int((flagged & known).sum()), int((flagged & ~known).sum())
    fn, tn = int((~flagged & known).sum()), int((~flagged & ~known).sum())
    assert result.confusion == (tp, fp, fn, tn) and result.labelled == 49
    assert result.rates["precision"].value == pytest.approx(tp / (tp + fp))
    assert result.rates["fnr"].value == pytest.approx(fn / (fn + tp))
    low, high = binomial_interval(fp, fp + tn)
    assert (result.rates["fpr"].low, result.rates["fpr"].high) == pytest.approx(
        (float(low), float(high))
    )
    assert (
        result.hit_rate.numerator == int((scores >= 0.5).sum())
        and result.hit_rate.denominator == 60
    )
    corrected, low, high = result.corrected
    assert low <= corrected <= high
    t = result.target
    above = scores[1:50] >= t.threshold
    assert (known & above).sum() / above.sum() == pytest.approx(t.precision) and t.precision >= 0.9


def test_recalibration_repairs_a_detector_whose_scores_are_too_low(ws):
    """Scores that rank well but sit far below their probabilities (positives near 0.3,
    negatives near 0.05): both calibrators lower the cross-validated Brier score a lot."""
    rng = np.random.default_rng(2)
    truth = rng.random(80) < 0.5
    scores = np.clip(np.where(truth, rng.normal(0.3, 0.05, 80), rng.normal(0.05, 0.03, 80)), 0, 1)
    run_id = _labelled_run(ws, truth, scores, labelled=80)
    for method in ("isotonic", "platt"):
        (result,) = calibrate(review_items(ws, [run_id]), ws.labels.list(), method=method)
        curve = [p for _, p in result.curve]
        assert all(0 <= p <= 1 for p in curve) and curve == sorted(curve)
        assert result.brier_calibrated < result.brier_raw / 2
        assert result.rates["recall"].value == 0.0  # the 0.5 threshold flags nothing
    target = threshold_for(scores, truth.astype(int), "recall", 0.95)
    assert target.threshold < 0.5 and target.recall >= 0.95
    kept = scores >= target.threshold
    assert (kept & truth).sum() / truth.sum() == pytest.approx(target.recall)
    assert threshold_for(scores, truth.astype(int), "precision", 1.01).threshold is None


def test_too_few_labels_say_how_many_are_needed(ws):
    truth = [True, False] * 10
    run_id = _labelled_run(ws, truth, [0.9 if t else 0.1 for t in truth], labelled=8)
    with pytest.raises(TailscopeError, match=r"has 8 labelled items \(4 present, 4 absent\)"):
        calibrate(review_items(ws, [run_id]), ws.labels.list())


def test_the_calibrate_command(tmp_path):
    ws = Workspace(tmp_path / "ws")
    rng = np.random.default_rng(3)
    truth = rng.random(40) < 0.5
    scores = np.clip(np.where(truth, rng.normal(0.7, 0.2, 40), rng.normal(0.3, 0.2, 40)), 0, 1)
    run_id = _labelled_run(ws, truth, scores, labelled=30)
    few = _labelled_run(ws, truth, scores, labelled=5)
    ws.close()
    done = tailscope("calibrate", run_id, "--recall", "0.9", workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    assert "corrected (Rogan-Gladen)" in done.stdout and "reaches recall 0.9" in done.stdout
    done = tailscope("calibrate", run_id, "--json", "--method", "platt", workspace=tmp_path / "ws")
    (result,) = json.loads(done.stdout)["detectors"]
    assert result["method"] == "platt" and result["labelled"] == 30
    assert (
        "labels by queue order: unrecorded 30"
        in tailscope("calibrate", run_id, workspace=tmp_path / "ws").stdout
    )
    done = tailscope("calibrate", run_id, "--order", "random", workspace=tmp_path / "ws")
    assert done.returncode == 2 and "has 0 labelled items" in done.stderr  # none was random
    for args, message in [
        ((run_id, "--order", "alphabetical"), "unknown queue order 'alphabetical'"),
        ((few,), "calibration needs at least 20"),
        ((run_id, "--precision", "0.9", "--recall", "0.9"), "not both"),
        ((run_id, "--method", "spline"), "use isotonic or platt"),
        ((run_id, "--precision", "2"), "must lie in (0, 1]"),
    ]:
        done = tailscope("calibrate", *args, workspace=tmp_path / "ws")
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_calibration_can_keep_only_the_labels_of_some_queue_orders(ws):
    rng = np.random.default_rng(4)
    truth = rng.random(60) < 0.5
    scores = np.clip(np.where(truth, rng.normal(0.7, 0.2, 60), rng.normal(0.3, 0.2, 60)), 0, 1)
    run_id = redteam_run(ws, [f"reply {i}" for i in range(60)], scores=list(scores))
    ws.labels.record(
        [
            Label(
                run_id=run_id,
                item_kind="case",
                item_idx=i,
                label="present" if t else "absent",
                labeller="ann",
                queue_order="random" if i < 40 else "uncertainty",
            )
            for i, t in enumerate(truth)
        ]
    )
    (every,) = calibrate(review_items(ws, [run_id]), ws.labels.list())
    (chosen,) = calibrate(review_items(ws, [run_id]), ws.labels.list(), orders=["random"])
    assert every.orders == {"random": 40, "uncertainty": 20} and every.labelled == 60
    assert chosen.orders == {"random": 40} and chosen.labelled == 40
