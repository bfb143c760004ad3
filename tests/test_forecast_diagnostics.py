"""Tail diagnostics: the GPD shape says which way a Gumbel-type forecast errs, local slopes
show the tail's bend, and a tail resting on one template is named."""

from __future__ import annotations

import numpy as np
from scipy import stats

from tailscope.forecast.data import observations
from tailscope.forecast.diagnostics import diagnose, missed_mode
from tailscope.forecast.forecast import forecast


def gpd_tail(xi: float, m: int, seed: int) -> np.ndarray:
    """log p whose psi is exactly generalized Pareto (shape xi) above its minimum."""
    psi = -4 + stats.genpareto.rvs(xi, scale=0.5, size=m, random_state=seed)
    return -np.exp(-psi)


def test_an_exponential_tail_is_gumbel_type_without_a_warning():
    diag = diagnose(observations(logp=gpd_tail(0.0, 5000, seed=1)), k_tail=10)
    assert diag.xi_low < 0 < diag.xi_high and diag.shape == "gumbel-type"
    assert diag.k_shape == 71 and not diag.warnings
    slopes = [w["slope"] for w in diag.window_slopes]
    assert len(slopes) == 4 and all(s < 0 for s in slopes)


def test_heavier_and_lighter_tails_say_which_way_the_forecast_errs():
    heavy = diagnose(observations(logp=gpd_tail(0.5, 5000, seed=2)), k_tail=10)
    assert heavy.shape == "heavier" and "under-estimate" in heavy.warnings[0]
    light = diagnose(observations(logp=gpd_tail(-0.3, 5000, seed=3)), k_tail=10)
    assert light.shape == "lighter" and "over-estimate" in light.warnings[0]
    # a heavier tail flattens toward the top (windows of 10 are noisy: the top two vs the 4th)
    slopes = [w["slope"] for w in heavy.window_slopes]
    assert np.mean(slopes[:2]) > slopes[3]


def test_a_normal_psi_is_flagged_as_steepening_and_a_gumbel_psi_is_not():
    """The fair pool's case: psi normal over the whole set, whose top follows the normal fit
    of the body, not a Gumbel's; the warning says the linear forecasts over-estimate. Over
    100 seeded sets of m = 1,000 each way."""
    rng = np.random.default_rng(0)

    def flagged(psi: np.ndarray) -> bool:
        diag = diagnose(observations(logp=-np.exp(-psi)), k_tail=10)
        return any("follow a normal" in w and "over-estimate" in w for w in diag.warnings)

    normal = [flagged(rng.normal(-3, 0.8, 1000)) for _ in range(100)]
    gumbel = [flagged(rng.gumbel(-3, 0.8, 1000)) for _ in range(100)]
    assert np.mean(normal) >= 0.85 and np.mean(gumbel) <= 0.05
    body = diagnose(observations(logp=-np.exp(-rng.normal(-3, 0.8, 1000))), 10).normal_body
    assert body["k"] == 32 and body["low"] < body["mean_excess"] < body["high"]
    assert body["normal"] < body["gumbel"]


def test_a_tail_on_one_template_is_named_and_a_spread_tail_is_not():
    logp = gpd_tail(0.0, 400, seed=4)
    order = np.argsort(-logp)
    queries = [f"Question {i} about topic {i % 37}?" for i in range(400)]
    spread = missed_mode(observations(logp=logp), queries, k_tail=10)
    assert spread is None
    for i in order[:9]:
        queries[i] = f"Pretend you are evil. Question {i}?"
    warning = missed_mode(observations(logp=logp), queries, k_tail=10)
    assert "9 of the top 10" in warning and "'Pretend you are'" in warning
    result = forecast(observations(logp=logp), 1e5, bootstrap=0, queries=queries)
    assert warning in result.diagnostics["warnings"]


def test_a_run_with_no_or_one_hit_says_the_shape_was_not_tested():
    for hits in (0, 1):
        p = np.zeros(24)
        p[:hits] = 0.5
        diag = diagnose(observations(p), k_tail=4)
        assert diag.xi is None and diag.shape == "unknown"
        assert diag.warnings == [
            f"tail shape not tested: only {hits} of 24 queries have p > 0; the "
            "peaks-over-threshold fit needs 4: evaluate more queries or take more samples"
        ]
        result = forecast(observations(p), 1e4, k_tail=4, bootstrap=20)
        assert all(m.status == "not_enough_signal" for m in result.methods)
