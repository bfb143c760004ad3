"""Tail fits, forecasts, their intervals, backtests and the handling of p = 0 and p = 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tailscope.errors import TailscopeError
from tailscope.forecast.backtest import backtest
from tailscope.forecast.data import (
    log10_p_from_psi,
    observations,
    psi_from_logp,
    read_probability_file,
)
from tailscope.forecast.forecast import forecast
from tailscope.forecast.tail import NotEnoughSignal, fit_linear_tail, fit_lognormal


def exponential_tail(mu: float, beta: float, size: int, seed: int = 0) -> np.ndarray:
    """log p of queries whose psi has an exact exponential upper tail:
    S(psi) = exp(-(psi - mu) / beta) for psi >= mu, i.e. a = -1/beta, b = mu/beta."""
    psi = mu + np.random.default_rng(seed).exponential(beta, size)
    return -np.exp(-psi)


def test_psi_is_computed_from_log_p_without_underflow():
    logp = np.array([-1e-3, -5.0, -2000.0, -np.inf])
    psi = psi_from_logp(logp)
    assert psi[:3] == pytest.approx(-np.log(-logp[:3]))
    assert psi[3] == -np.inf
    assert log10_p_from_psi(psi[2]) == pytest.approx(-2000 / math.log(10))


def test_gumbel_fit_recovers_known_tail_parameters():
    mu, beta = -3.0, 0.5
    obs = observations(logp=exponential_tail(mu, beta, 200_000))
    fit = fit_linear_tail(obs, k_tail=2000, kind="paper")
    assert fit.a == pytest.approx(-1 / beta, rel=0.05)
    assert fit.b == pytest.approx(mu / beta, abs=0.3)


def test_gumbel_fit_on_a_gumbel_distributed_psi():
    # psi ~ standard Gumbel  <=>  p ~ Uniform(0, 1); its tail is S ~ exp(-psi): a = -1, b = 0.
    p = np.random.default_rng(1).uniform(size=200_000)
    fit = fit_linear_tail(observations(p), k_tail=500, kind="paper")
    assert fit.a == pytest.approx(-1.0, rel=0.08)
    assert fit.b == pytest.approx(0.0, abs=0.5)


def test_forecast_matches_the_analytic_quantile():
    mu, beta, m, n = -6.0, 0.3, 2000, 1_000_000
    obs = observations(logp=exponential_tail(mu, beta, m, seed=3))
    result = forecast(obs, n, k_tail=50, bootstrap=300, seed=0)
    gumbel = result.method("expected")
    analytic_psi = mu + beta * math.log(n)  # S(psi) = 1/n
    analytic_log10 = log10_p_from_psi(analytic_psi)
    # Stated tolerance for one evaluation set: within one tail scale beta in psi (the
    # forecast's standard error here is about 0.9 beta; bias is tested over many seeds).
    assert abs(psi_from_logp(math.log(gumbel.q_p)) - analytic_psi) < beta
    assert gumbel.q_p_low <= 10**analytic_log10 <= gumbel.q_p_high
    assert gumbel.bootstrap_valid == 1.0
    # the curve ends at the point forecast and its band holds the curve everywhere
    curve = gumbel.curve
    assert curve["log10_q_p"][-1] == pytest.approx(gumbel.log10_q_p)
    assert np.all(np.array(curve["log10_low"]) <= curve["log10_q_p"])
    assert np.all(np.array(curve["log10_q_p"]) <= curve["log10_high"])
    assert np.all(np.diff(curve["log10_q_p"]) > 0)  # the worst query grows with n


def test_lognormal_baseline_matches_scipy():
    rng = np.random.default_rng(2)
    psi = rng.normal(-2.0, 0.7, 5000)
    logp = -np.exp(-psi)
    logp[:500] = -np.inf  # 10% with p = 0: a point mass below the normal part
    obs = observations(logp=logp)
    fit = fit_lognormal(obs)
    mu, sigma = stats.norm.fit(psi[500:])
    assert (fit.mu, fit.sigma) == pytest.approx((mu, sigma))
    assert fit.zero_share == pytest.approx(0.1)
    n = 1e5
    assert fit.q_psi(n) == pytest.approx(stats.norm.isf(1 / (n * 0.9), mu, sigma))
    result = forecast(obs, n, bootstrap=0)
    q = result.method("log-normal").q_p
    assert q == pytest.approx(np.exp(-np.exp(-stats.norm.isf(1 / (n * 0.9), mu, sigma))))


def test_too_few_positive_queries_is_not_enough_signal_never_a_number():
    p = np.zeros(200)
    p[:9] = np.linspace(0.01, 0.09, 9)  # 9 hits < k_tail = 10
    result = forecast(observations(p), 1e6, bootstrap=50)
    gumbel = result.method("expected")
    assert gumbel.status == "not_enough_signal" and gumbel.q_p is None
    assert "9 of 200" in gumbel.reason
    with pytest.raises(NotEnoughSignal):
        fit_linear_tail(observations(p))


def test_zero_probabilities_count_in_m_and_ones_need_an_interval():
    p = np.zeros(100)
    p[:20] = np.linspace(0.05, 0.5, 20)
    obs = observations(p)
    assert (obs.m, obs.n_zero, obs.n_positive) == (100, 80, 20)
    fit = fit_linear_tail(obs)
    assert fit.m == 100  # ranks are out of all 100, zeros included
    p[0] = 1.0
    with pytest.raises(TailscopeError, match="p = 1"):
        observations(p)
    hits = np.round(p * 32)
    obs = observations(p, hits=hits, trials=np.full(100, 32))
    assert obs.one_rule == "jeffreys_median" and np.isfinite(obs.psi[0])
    assert 0.97 < np.exp(-np.exp(-obs.psi[0])) < 1
    low = np.full(100, np.nan)
    low[0] = 0.9
    obs = observations(p, p_low=low)
    assert obs.one_rule == "interval_low"
    assert np.exp(-np.exp(-obs.psi[0])) == pytest.approx(0.9)


def test_frequency_and_aggregate_risk():
    mu, beta = -3.0, 0.5
    obs = observations(logp=exponential_tail(mu, beta, 5000, seed=4))
    tau = float(np.exp(-np.exp(-(mu + 2.0))))  # S(psi_tau) = exp(-2 / beta)
    result = forecast(obs, 1e4, k_tail=200, tau=tau, bootstrap=100)
    g = result.method("expected")
    assert g.frequency_above_tau == pytest.approx(math.exp(-2.0 / beta), rel=0.3)
    assert g.frequency_low <= g.frequency_above_tau <= g.frequency_high
    # aggregate risk over n queries: 1 - (1 - E[p])^n, E[p] from the evaluation set
    mean_p = np.mean(np.exp(-np.exp(-obs.psi)))
    assert g.aggregate_risk == pytest.approx(1 - (1 - mean_p) ** 1e4, rel=0.05)
    assert 0 <= g.aggregate_low <= g.aggregate_risk <= g.aggregate_high <= 1


def test_deployment_smaller_than_evaluation_is_an_error():
    obs = observations(logp=exponential_tail(-3, 0.5, 100))
    with pytest.raises(TailscopeError, match="smaller than the 100"):
        forecast(obs, 50)


def test_backtest_scores_both_methods_on_disjoint_splits():
    obs = observations(logp=exponential_tail(-3, 0.5, 12_000, seed=5))
    result = backtest(obs, 100, 10_000, repeats=50)
    g, ln = result.method("expected"), result.method("log-normal")
    assert g.forecasts == 50 and len(g.errors) == 50
    assert g.mean_abs_log10_error < ln.mean_abs_log10_error  # exact exponential tail
    assert g.within_10x == np.mean(np.abs(g.errors) <= 1)
    assert g.under_estimated == np.mean(np.array(g.errors) < 0)
    with pytest.raises(TailscopeError, match="fewer than m \\+ n"):
        backtest(obs, 3000, 10_000)
    with pytest.raises(TailscopeError, match="smaller than evaluation"):
        backtest(obs, 1000, 500)


def test_probability_files_are_validated(tmp_path):
    good = tmp_path / "p.csv"
    good.write_text("query,p\na,0.1\nb,0\nc,0.5\n")
    obs = read_probability_file(good)
    assert obs.m == 3 and obs.n_zero == 1
    cases = {
        "nan.csv": "p\n0.1\nnan\n",
        "big.csv": "p\n0.1\n1.5\n",
        "neg.jsonl": '{"p": 0.1}\n{"p": -0.2}\n',
        "text.csv": "p\n0.1\nabc\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(TailscopeError, match="row 2"):
            read_probability_file(path)
    missing_col = tmp_path / "col.csv"
    missing_col.write_text("q\n0.1\n")
    with pytest.raises(TailscopeError, match="column 'p'"):
        read_probability_file(missing_col)
    ones = tmp_path / "ones.csv"
    ones.write_text("p,p_low\n1,0.8\n0.2,\n")
    assert read_probability_file(ones).one_rule == "interval_low"
