"""Intervals for Q_psi(n) that cover under the fitted tail model.

Resampling the evaluation set (the nonparametric bootstrap) under-covers for extreme
quantiles: a resample never holds a value above the observed maximum. Instead:

- Linear fits (`paper`, `expected`): on an exponential tail of psi the fit is location-
  and scale-equivariant, so T = (Q_hat - Q) / beta_hat (beta_hat = -1/a) has the same
  distribution whatever the tail's location and scale. It is simulated once per (m, k,
  n) from the top k of m standard exponentials (the (k+1)-th largest is -log of a
  Beta(k+1, m-k) draw, the spacings above it are E_j / j: Renyi's representation), and
  the interval is [Q_hat - T_hi beta_hat, Q_hat - T_lo beta_hat]: exact coverage when the
  tail is exponential, whatever its parameters.
- Peaks over threshold: a parametric bootstrap from the fitted generalized Pareto
  (excesses redrawn and refitted, percentile interval), conditional on the threshold.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats

from tailscope.forecast.pot import GeneralizedParetoTail, fit_gpd
from tailscope.forecast.tail import GumbelTail, fit_lines, plotting_positions

POT_DRAWS = 60  # each one a maximum-likelihood fit (~10 ms): far fewer than the pivot's


@lru_cache(maxsize=32)
def _pivot_draws(kind: str, m: int, k: int, draws: int, seed: int) -> tuple[np.ndarray, ...]:
    """(b, a) of the linear fit on `draws` simulated standard-exponential tops."""
    rng = np.random.default_rng(seed)
    threshold = -np.log(rng.beta(k + 1, m - k, size=draws))
    spacings = rng.exponential(size=(draws, k)) / np.arange(1, k + 1)
    top = threshold[:, None] + np.cumsum(spacings[:, ::-1], axis=1)[:, ::-1]
    y = np.broadcast_to(plotting_positions(kind, m)[:k], top.shape)
    a, b, ok = fit_lines(top, y)
    return b[ok], a[ok]


def linear_interval(
    model: GumbelTail, ns: np.ndarray, draws: int, confidence: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Q_psi(n) bounds over `ns` from the exponential-tail pivot."""
    b, a = _pivot_draws(model.name, model.m, model.k_tail, max(draws, 200), seed)
    log_n = np.log(np.asarray(ns, dtype=float))
    pivot = b[:, None] + (1 + a[:, None]) * log_n[None, :]  # T(n) per simulated fit
    alpha = 1 - confidence
    t_lo, t_hi = np.quantile(pivot, [alpha / 2, 1 - alpha / 2], axis=0)
    beta = -1 / model.a
    q = model.q_psi(ns)
    return q - t_hi * beta, q - t_lo * beta


def pot_interval(
    model: GeneralizedParetoTail, ns: np.ndarray, draws: int, confidence: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds of a parametric bootstrap from the fitted generalized Pareto."""
    rng = np.random.default_rng(seed)
    redrawn = []
    for _ in range(min(draws, POT_DRAWS)):
        excess = stats.genpareto.rvs(model.xi, 0, model.sigma, size=model.k_tail, random_state=rng)
        xi, sigma, _ = fit_gpd(excess)
        refit = GeneralizedParetoTail(model.u, xi, sigma, model.k_tail, model.m)
        redrawn.append(refit.q_psi(ns))
    alpha = 1 - confidence
    low, high = np.quantile(np.array(redrawn), [alpha / 2, 1 - alpha / 2], axis=0)
    return low, high
