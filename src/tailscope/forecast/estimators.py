"""The tail estimators by name: one forecast core, pluggable fits.

Each estimator fits an evaluation set (`fit`), forecasts Q_psi(n) for many evaluation
sets at once (`q_rows`, for backtests and resampling) and, where it has one, gives an
interval that covers under its own model (`interval`); without one the forecast falls
back to the nonparametric bootstrap. Adding an estimator is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.forecast.data import Observations
from tailscope.forecast.intervals import linear_interval, pot_interval
from tailscope.forecast.pot import fit_pot, pot_q_psi_rows
from tailscope.forecast.tail import (
    K_TAIL,
    fit_linear_tail,
    fit_lognormal,
    linear_q_psi_batch,
    lognormal_q_psi_batch,
)


@dataclass(frozen=True)
class Estimator:
    name: str
    summary: str
    fit: Callable  # (obs, k_tail) -> model with q_psi, log_survival, mean_p
    q_rows: Callable  # (psi rows [R, m], k_tail, ns) -> Q_psi [R, len(ns)], NaN: no signal
    interval: Callable | None = None  # (model, ns, draws, confidence, seed) -> (low, high)
    refits: int = 200  # resamples refitted for frequency and aggregate-risk intervals


def _linear(kind: str, summary: str) -> Estimator:
    return Estimator(
        name=kind,
        summary=summary,
        fit=partial(fit_linear_tail, kind=kind),
        q_rows=partial(linear_q_psi_batch, kind=kind),
        interval=linear_interval,
    )


ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        _linear("expected", "Gumbel-type tail, expected plotting positions -(H_m - H_(i-1))"),
        _linear("paper", "Gumbel-type tail, plotting positions log(i/m) (Jones et al. 2025)"),
        Estimator(
            "pot",
            "peaks over threshold: generalized Pareto above the k-th value (MLE)",
            fit_pot,
            pot_q_psi_rows,
            pot_interval,
            refits=60,  # a maximum-likelihood fit each
        ),
        Estimator(
            "log-normal",
            "baseline: normal psi (log-normal -log p), zeros as a point mass",
            fit_lognormal,
            lambda rows, k_tail, ns: lognormal_q_psi_batch(rows, ns),
        ),
    )
}
DEFAULT_ESTIMATOR = "expected"
METHODS = tuple(ESTIMATORS)


def estimator(name: str) -> Estimator:
    if name not in ESTIMATORS:
        raise TailscopeError(
            f"unknown forecast method {name!r}: use one of {', '.join(ESTIMATORS)}"
        )
    return ESTIMATORS[name]


def fit(name: str, obs: Observations, k_tail: int = K_TAIL):
    return estimator(name).fit(obs, k_tail)


def q_rows(name: str, rows: np.ndarray, k_tail: int, ns: np.ndarray) -> np.ndarray:
    return estimator(name).q_rows(rows, k_tail, ns)
