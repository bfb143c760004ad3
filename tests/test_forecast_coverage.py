"""By simulation, on exact Gumbel-type tails (exponential psi): the default estimator's
bias stays within a stated tolerance and nominal 95% intervals cover at least 90%.

Errors are in units of the tail scale beta. The linear estimators are location- and
scale-equivariant, so one exponential stands for all; a second (mu, beta) checks that.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailscope.forecast.data import observations
from tailscope.forecast.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from tailscope.forecast.forecast import forecast
from tailscope.forecast.tail import linear_q_psi_batch

REPEATS = 300
K_TAIL = 10


def simulate(m: int, mu: float, beta: float, seed: int) -> np.ndarray:
    return mu + beta * np.random.default_rng(seed).exponential(size=(REPEATS, m))


@pytest.mark.parametrize("m", [100, 1000])
def test_default_estimator_bias_is_within_tolerance(m):
    n, mu, beta = 10_000, -4.0, 0.5
    rows = simulate(m, mu, beta, seed=m)
    error = (linear_q_psi_batch(rows, K_TAIL, np.array([n]), DEFAULT_ESTIMATOR)[:, 0]) - (
        mu + beta * math.log(n)
    )
    error /= beta
    # Stated tolerance (docs/methods/forecasting.md): median within 0.5 beta, mean within
    # 1.2 beta over 300 sets (the benchmark's 1,000 give -0.15/+0.51 at m = 100 and
    # +0.12/+0.33 at m = 1,000). The paper's positions sit a full beta above.
    assert abs(np.median(error)) < 0.5
    assert abs(np.mean(error)) < 1.2
    paper = linear_q_psi_batch(rows, K_TAIL, np.array([n]), "paper")[:, 0]
    assert np.median((paper - mu - beta * math.log(n)) / beta) > 0.8


@pytest.mark.parametrize("name", ["expected", "paper"])
@pytest.mark.parametrize("m", [100, 1000])
def test_nominal_95_percent_intervals_cover_at_least_90(name, m):
    n, mu, beta = 10_000, 1.5, 2.0
    rows = simulate(m, mu, beta, seed=7 * m)
    true_q = mu + beta * math.log(n)
    est = ESTIMATORS[name]
    held = []
    for row in rows:
        model = est.fit(observations(logp=-np.exp(-row)), K_TAIL)
        low, high = est.interval(model, np.array([float(n)]), 1000, 0.95, 0)
        held.append(low[0] <= true_q <= high[0])
    assert 0.90 <= np.mean(held) <= 0.99  # not a trivially wide interval either


def test_forecast_reports_the_model_interval_for_linear_fits():
    psi = -3 + 0.5 * np.random.default_rng(1).exponential(size=500)
    result = forecast(observations(logp=-np.exp(-psi)), 1e5, bootstrap=200, tau=0.2)
    for name in ("expected", "paper"):
        method = result.method(name)
        assert method.interval == "model"
        assert method.q_p_low < method.q_p < method.q_p_high
        assert np.all(np.diff(method.curve["log10_high"]) > 0)
    assert result.method("log-normal").interval == "bootstrap"
