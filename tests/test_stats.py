"""Binomial intervals: agreement with scipy, behaviour at 0 and k hits, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tailscope.stats import binomial_interval, decided, jeffreys_median


def test_wilson_matches_scipy_binomtest():
    for hits, k in [(0, 10), (3, 10), (10, 10), (1, 200), (57, 64)]:
        low, high = binomial_interval(hits, k, 0.95, "wilson")
        ref = stats.binomtest(hits, k).proportion_ci(0.95, method="wilson")
        assert low == pytest.approx(ref.low, abs=1e-12)
        assert high == pytest.approx(ref.high, abs=1e-12)


def test_zero_and_all_hits_give_one_sided_intervals_not_points():
    for method in ("wilson", "jeffreys"):
        low, high = binomial_interval([0, 16], [16, 16], 0.95, method)
        assert low[0] == 0.0 and 0.05 < high[0] < 0.25  # p = 0 observed, but not ruled out
        assert high[1] == 1.0 and 0.75 < low[1] < 0.95
    median = jeffreys_median([0, 16], [16, 16])
    assert 0 < median[0] < 0.05 and 0.95 < median[1] < 1


@pytest.mark.parametrize("method", ["wilson", "jeffreys"])
def test_intervals_cover_at_close_to_the_nominal_rate(method):
    rng = np.random.default_rng(0)
    k, reps = 40, 4000
    coverages = []
    for p in (0.02, 0.1, 0.3, 0.5, 0.8):
        hits = rng.binomial(k, p, size=reps)
        low, high = binomial_interval(hits, np.full(reps, k), 0.95, method)
        coverages.append(np.mean((low <= p) & (p <= high)))
    # Both are approximate intervals: coverage oscillates around 95% with k.
    assert 0.93 <= np.mean(coverages) <= 0.975, coverages
    assert min(coverages) >= 0.88, coverages


def test_decided_against_a_threshold():
    assert decided([0.2, 0.01, 0.05], [0.4, 0.04, 0.2], 0.1).tolist() == [True, True, False]


def test_bad_counts_are_rejected():
    with pytest.raises(ValueError):
        binomial_interval(1, 0)
    with pytest.raises(ValueError):
        binomial_interval(5, 3)
