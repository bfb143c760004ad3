"""Backtest interval coverage for every estimator: the pivot (expected, paper), pot's
parametric bootstrap (only when asked: it refits per split) and the log-normal's
nonparametric bootstrap, on a pool with an exact exponential tail of psi."""

from __future__ import annotations

import json

import numpy as np

from tailscope.forecast.backtest import backtest, forecast_interval
from tailscope.forecast.data import observations
from tests.cli import tailscope
from tests.test_forecast import exponential_tail


def pool():
    return observations(logp=exponential_tail(-3, 0.5, 5_000, seed=7))


def test_every_estimator_gets_a_coverage_and_pot_only_when_asked():
    quick = backtest(pool(), 100, 1_000, repeats=40)
    assert quick.method("pot").coverage is None  # 60 refits per split: not by default
    for name in ("expected", "paper"):
        assert quick.method(name).coverage >= 0.85  # nominal 95%, exact model, 40 splits
    assert quick.method("eval-max").coverage is None  # a baseline has no interval
    full = backtest(pool(), 100, 1_000, repeats=12, coverage=("pot", "log-normal"))
    assert full.method("pot").coverage >= 0.75
    assert 0 <= full.method("log-normal").coverage <= 1
    assert full.method("expected").coverage is None


def test_the_log_normal_interval_is_the_bootstrap_of_the_forecast_and_misses_this_tail():
    """A normal fit to all psi cannot follow an exponential tail: at m = 1,000 its
    bootstrap interval is narrow and below the actual maximum of most splits."""
    result = backtest(pool(), 1_000, 3_000, repeats=30, coverage=("log-normal", "expected"))
    assert result.method("log-normal").coverage < 0.5 < result.method("expected").coverage
    row = pool().psi[:1_000]
    low, high = forecast_interval("log-normal", row, 10, 3_000, 0.95)
    assert low < high
    assert forecast_interval("pot", np.full(1_000, -np.inf), 10, 3_000, 0.95) is None


def test_the_cli_backtest_reports_pot_coverage_with_the_flag(tmp_path):
    path = tmp_path / "p.csv"
    logp = exponential_tail(-3, 0.5, 1_200, seed=3)
    path.write_text("p\n" + "\n".join(str(np.exp(v)) for v in logp) + "\n")
    args = ("backtest", str(path), "--m", "100", "--n", "1000", "--repeats", "6", "--json")
    plain = json.loads(tailscope(*args, workspace=tmp_path / "ws").stdout)
    flagged = tailscope(*args, "--pot-coverage", workspace=tmp_path / "ws")
    assert flagged.returncode == 0, flagged.stderr
    coverage = {s["method"]: s["coverage"] for s in json.loads(flagged.stdout)["methods"]}
    assert {s["method"]: s["coverage"] for s in plain["methods"]}["pot"] is None
    assert coverage["pot"] is not None and coverage["log-normal"] is not None
