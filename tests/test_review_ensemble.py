"""The bagged ensemble, its disagreement, risk–coverage and AURC, on features whose truth is
known."""

from __future__ import annotations

import numpy as np
import pytest

from tailscope.errors import TailscopeError
from tailscope.review.ensemble import (
    BaggedEnsemble,
    abstain,
    risk_coverage,
    uncertainty_error_correlation,
)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two features; the label follows their sum, with more noise near the boundary."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 2))
    p = 1 / (1 + np.exp(-3 * x.sum(axis=1)))
    return x, (rng.random(n) < p).astype(int)


def test_risk_coverage_and_aurc_by_hand():
    curve = risk_coverage(np.array([0.9, 0.2, 0.8, 0.5]), np.array([0, 1, 1, 0]))
    # most confident first: errors 0, 1, 0, 1 -> risks 0, 1/2, 1/3, 1/2
    assert curve.coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert curve.risk == pytest.approx([0, 1 / 2, 1 / 3, 1 / 2])
    assert curve.aurc == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)


def test_the_ensembles_confidence_orders_its_errors_better_than_chance():
    x, y = _data(300, seed=0)
    test_x, test_y = _data(400, seed=1)
    mean, spread = BaggedEnsemble(members=8, seed=0).fit(x, y).predict(test_x)
    errors = ((mean >= 0.5) != test_y).astype(int)
    curve = risk_coverage(np.abs(mean - 0.5), errors)
    rng = np.random.default_rng(2)
    random_aurc = np.mean([risk_coverage(rng.random(400), errors).aurc for _ in range(50)])
    assert curve.risk[-1] == pytest.approx(errors.mean())
    assert curve.aurc < 0.6 * random_aurc
    assert 0 < uncertainty_error_correlation(-np.abs(mean - 0.5), errors) <= 1
    assert np.all(spread >= 0)


def test_members_disagree_more_far_from_the_labels():
    x, y = _data(60, seed=3)
    ensemble = BaggedEnsemble(members=10, seed=0).fit(x, y)
    _, near = ensemble.predict(x)
    far = np.array([[6.0, -6.5], [-7.0, 6.0], [8.0, -8.2]])  # on the boundary, far out
    _, spread = ensemble.predict(far)
    assert spread.mean() > 2 * near.mean()
    deferred = abstain(*ensemble.predict(far), band=0.1, max_spread=np.quantile(near, 0.9))
    assert deferred.all()


def test_bad_inputs():
    with pytest.raises(TailscopeError, match="at least 2 members"):
        BaggedEnsemble(members=1)
    with pytest.raises(TailscopeError, match="both classes"):
        BaggedEnsemble().fit(np.zeros((4, 2)), np.ones(4))
    assert np.isnan(uncertainty_error_correlation(np.ones(3), np.array([0, 1, 0])))
