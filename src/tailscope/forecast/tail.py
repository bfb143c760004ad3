"""Tail fits of psi = -log(-log p) and the deployment-scale quantities they imply.

Gumbel-tail (Jones et al. 2025): the log survival function of psi is linear in its upper
tail, log S(psi) = a * psi + b with a < 0, fitted by least squares on the top `k_tail` of
the m evaluation queries at the empirical survival values log(i / m). The largest
elicitation probability among n deployment queries is forecast as the 1/n survival
quantile, Q_psi(n) = -(log n + b) / a, Q_p(n) = exp(-exp(-Q_psi(n))).

Log-normal baseline: a normal distribution fitted (maximum likelihood, as scipy's
`norm.fit`) to the finite psi values; queries with p = 0 form a point mass below it, so
S(psi) = (1 - pi0) * norm.sf(psi; mu, sigma). See docs/methods/forecasting.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats

from tailscope.forecast.data import Observations, p_from_psi

K_TAIL = 10


class NotEnoughSignal(Exception):
    """Too few queries with p > 0 (or a degenerate tail) to fit: no number is made up."""


@dataclass(frozen=True)
class GumbelTail:
    a: float  # slope of log S(psi), negative
    b: float
    k_tail: int
    m: int
    psi_k: float  # smallest psi in the fitted tail: below it the fit is not used
    name: str = "gumbel-tail"

    def log_survival(self, psi) -> np.ndarray:
        return np.minimum(0.0, self.a * np.asarray(psi, dtype=float) + self.b)

    def q_psi(self, n) -> np.ndarray:
        return -(np.log(np.asarray(n, dtype=float)) + self.b) / self.a

    def mean_p(self, body_psi: np.ndarray) -> float:
        """E[p] over queries: the evaluation values below the tail, the fitted tail above."""
        body = float(np.sum(p_from_psi(body_psi[np.isfinite(body_psi)]))) / self.m
        top = math.exp(self.a * self.psi_k + self.b)

        def density(psi):  # -dS/dpsi times p
            return -self.a * math.exp(self.a * psi + self.b) * math.exp(-math.exp(-psi))

        tail, _ = integrate.quad(density, self.psi_k, np.inf, limit=200)
        return body * (1 - top) / max(1e-300, 1 - self.k_tail / self.m) + tail


@dataclass(frozen=True)
class LogNormal:
    mu: float
    sigma: float
    zero_share: float  # pi0: queries with p = 0
    m: int
    name: str = "log-normal"

    def log_survival(self, psi) -> np.ndarray:
        return math.log1p(-self.zero_share) + stats.norm.logsf(psi, self.mu, self.sigma)

    def q_psi(self, n) -> np.ndarray:
        n = np.asarray(n, dtype=float)
        return stats.norm.isf(1.0 / (n * (1 - self.zero_share)), self.mu, self.sigma)

    def mean_p(self, body_psi: np.ndarray | None = None) -> float:
        def density(psi):
            return stats.norm.pdf(psi, self.mu, self.sigma) * math.exp(-math.exp(-psi))

        lo, hi = self.mu - 12 * self.sigma, self.mu + 12 * self.sigma
        value, _ = integrate.quad(density, lo, hi, limit=200, points=[self.mu])
        return (1 - self.zero_share) * value


def top_psi(psi: np.ndarray, k: int) -> np.ndarray:
    """The k largest values, descending."""
    part = np.partition(psi, psi.size - k)[psi.size - k :]
    return np.sort(part)[::-1]


def fit_gumbel_tail(obs: Observations, k_tail: int = K_TAIL) -> GumbelTail:
    if k_tail < 2:
        raise ValueError(f"k_tail {k_tail} must be at least 2 to fit a line")
    if obs.n_positive < k_tail:
        raise NotEnoughSignal(
            f"only {obs.n_positive} of {obs.m} queries have p > 0; the tail fit needs "
            f"k_tail = {k_tail}: evaluate more queries or take more samples per query"
        )
    top = top_psi(obs.psi, k_tail)
    ranks = np.log(np.arange(1, k_tail + 1) / obs.m)
    if np.ptp(top) == 0:
        raise NotEnoughSignal("the top queries all have the same p: the tail has no slope")
    a, b = np.polyfit(top, ranks, 1)
    if not a < 0:
        raise NotEnoughSignal(f"the fitted tail slope {a:.3g} is not negative")
    return GumbelTail(a=float(a), b=float(b), k_tail=k_tail, m=obs.m, psi_k=float(top[-1]))


def fit_lognormal(obs: Observations) -> LogNormal:
    finite = obs.psi[np.isfinite(obs.psi)]
    if finite.size < 2:
        raise NotEnoughSignal(f"only {finite.size} queries have p > 0: a normal fit needs 2")
    if np.ptp(finite) == 0:
        raise NotEnoughSignal(
            f"all {finite.size} queries with p > 0 have the same p: a normal fit needs spread"
        )
    mu, sigma = stats.norm.fit(finite)
    return LogNormal(mu=float(mu), sigma=float(sigma), zero_share=obs.n_zero / obs.m, m=obs.m)


def fit(method: str, obs: Observations, k_tail: int = K_TAIL):
    if method == "gumbel-tail":
        return fit_gumbel_tail(obs, k_tail)
    if method == "log-normal":
        return fit_lognormal(obs)
    raise ValueError(f"unknown forecast method {method!r}")


METHODS = ("gumbel-tail", "log-normal")


# ---- vectorized Gumbel-tail fits for bootstrap and backtests ------------------------------


def gumbel_q_psi_batch(psi_rows: np.ndarray, k_tail: int, ns: np.ndarray) -> np.ndarray:
    """Q_psi(n) for many evaluation sets at once (rows of `psi_rows`, each of size m).

    Returns [rows, len(ns)]; NaN for a row without enough signal."""
    rows, m = psi_rows.shape
    top = -np.sort(-np.partition(psi_rows, m - k_tail, axis=1)[:, m - k_tail :], axis=1)
    y = np.log(np.arange(1, k_tail + 1) / m)
    ok = np.all(np.isfinite(top), axis=1)
    x = np.where(ok[:, None], top, 0.0)
    xc = x - x.mean(axis=1, keepdims=True)
    var = np.sum(xc**2, axis=1)
    ok &= var > 0
    a = np.sum(xc * (y - y.mean()), axis=1) / np.where(var > 0, var, 1.0)
    b = y.mean() - a * x.mean(axis=1)
    ok &= a < 0
    q = -(np.log(ns)[None, :] + b[:, None]) / np.where(ok, a, -1.0)[:, None]
    return np.where(ok[:, None], q, np.nan)


def lognormal_q_psi_batch(psi_rows: np.ndarray, ns: np.ndarray) -> np.ndarray:
    finite = np.isfinite(psi_rows)
    count = finite.sum(axis=1)
    x = np.where(finite, psi_rows, 0.0)
    mu = x.sum(axis=1) / np.maximum(count, 1)
    var = np.where(finite, (x - mu[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(count, 1)
    sigma = np.sqrt(var)
    zero_share = 1 - count / psi_rows.shape[1]
    ok = (count >= 2) & (sigma > 0)
    surv = 1.0 / (ns[None, :] * np.maximum(1e-300, 1 - zero_share)[:, None])
    q = stats.norm.isf(np.minimum(surv, 1.0), mu[:, None], np.where(ok, sigma, 1.0)[:, None])
    return np.where(ok[:, None], q, np.nan)
