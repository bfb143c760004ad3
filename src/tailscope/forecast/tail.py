"""Linear tail fits of psi = -log(-log p) and the log-normal baseline.

Gumbel-type tail (Jones et al. 2025): the log survival function of psi is linear in its
upper tail, log S(psi) = a * psi + b with a < 0, fitted by least squares on the top
`k_tail` of the m evaluation queries against a plotting position for each rank i:

- `paper`: the empirical survival log(i / m), as the paper does. Its expectation is
  above the expected log-survival of the i-th largest value, so the fit over-forecasts
  even when the model holds exactly (docs/methods/forecasting.md has the numbers).
- `expected`: the expected log-survival of the i-th largest of m values,
  E[log S(X_(i))] = -(H_m - H_{i-1}) (harmonic numbers), which removes that bias.

Ties: tied values get the mean plotting position of their whole tie block, so where the
cut at rank k falls inside a block of equal p does not decide which positions are used.

The largest elicitation probability among n deployment queries is forecast as the 1/n
survival quantile, Q_psi(n) = -(log n + b) / a, Q_p(n) = exp(-exp(-Q_psi(n))).

Log-normal baseline: a normal distribution fitted (maximum likelihood, as scipy's
`norm.fit`) to the finite psi values; queries with p = 0 form a point mass below it, so
S(psi) = (1 - pi0) * norm.sf(psi; mu, sigma).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import integrate, stats

from tailscope.forecast.data import Observations, p_from_psi

K_TAIL = 10


class NotEnoughSignal(Exception):
    """Too few queries with p > 0 (or a degenerate tail) to fit: no number is made up."""


@lru_cache(maxsize=64)
def plotting_positions(kind: str, m: int) -> np.ndarray:
    """The log-survival assigned to ranks i = 1..m (largest first)."""
    i = np.arange(1, m + 1, dtype=float)
    if kind == "paper":
        return np.log(i / m)
    if kind == "expected":
        harmonic = np.concatenate([[0.0], np.cumsum(1.0 / i)])  # H_0 .. H_m
        return -(harmonic[m] - harmonic[:m])
    raise ValueError(f"unknown plotting positions {kind!r}")


def tie_averaged_positions(rows: np.ndarray, top: np.ndarray, kind: str) -> np.ndarray:
    """For each value in `top` ([R, k], from the rows [R, m]), the mean plotting position of
    the ranks its value occupies in its row: its own rank when it is not tied."""
    m = rows.shape[1]
    y = plotting_positions(kind, m)
    cum = np.concatenate([[0.0], np.cumsum(y)])
    above = np.sum(rows[:, None, :] > top[:, :, None], axis=2)  # ranks before the block
    through = np.sum(rows[:, None, :] >= top[:, :, None], axis=2)  # last rank of the block
    return (cum[through] - cum[above]) / np.maximum(through - above, 1)


def top_rows(rows: np.ndarray, k: int) -> np.ndarray:
    """The k largest values of each row, descending."""
    m = rows.shape[1]
    return -np.sort(-np.partition(rows, m - k, axis=1)[:, m - k :], axis=1)


def top_psi(psi: np.ndarray, k: int) -> np.ndarray:
    """The k largest values, descending."""
    return top_rows(psi[None, :], k)[0]


@dataclass(frozen=True)
class GumbelTail:
    a: float  # slope of log S(psi), negative
    b: float
    k_tail: int
    m: int
    psi_k: float  # smallest psi in the fitted tail: below it the fit is not used
    name: str = "expected"

    def log_survival(self, psi) -> np.ndarray:
        return np.minimum(0.0, self.a * np.asarray(psi, dtype=float) + self.b)

    def q_psi(self, n) -> np.ndarray:
        return -(np.log(np.asarray(n, dtype=float)) + self.b) / self.a

    def mean_p(self, body_psi: np.ndarray) -> float:
        """E[p] over queries: the evaluation values below the tail, the fitted tail above."""
        return tail_mean_p(self, body_psi)


def tail_mean_p(model, body_psi: np.ndarray) -> float:
    """E[p] for a tail model above `model.psi_k` joined to the evaluation values below."""
    body = float(np.sum(p_from_psi(body_psi[np.isfinite(body_psi)]))) / model.m
    top = math.exp(float(model.log_survival(model.psi_k)))

    def density(psi):  # -dS/dpsi times p, by a central difference of the fitted S
        h = 1e-5
        s_lo, s_hi = np.exp(model.log_survival(np.array([psi - h, psi + h])))
        return (s_lo - s_hi) / (2 * h) * math.exp(-math.exp(-psi))

    tail, _ = integrate.quad(density, model.psi_k, np.inf, limit=200)
    return body * (1 - top) / max(1e-300, 1 - model.k_tail / model.m) + tail


def linear_fit_rows(rows: np.ndarray, k_tail: int, kind: str):
    """Least-squares (a, b, ok) of log-survival on psi over the top k_tail of each row."""
    top = top_rows(rows, k_tail)
    ok = np.all(np.isfinite(top), axis=1)
    x = np.where(ok[:, None], top, 0.0)
    a, b, fitted = fit_lines(x, tie_averaged_positions(rows, x, kind))
    return a, b, ok & fitted


def fit_lines(x: np.ndarray, y: np.ndarray):
    """Row-wise least squares y = a x + b; ok where x has spread and the slope is negative."""
    xc = x - x.mean(axis=1, keepdims=True)
    var = np.sum(xc**2, axis=1)
    a = np.sum(xc * (y - y.mean(axis=1, keepdims=True)), axis=1) / np.where(var > 0, var, 1.0)
    b = y.mean(axis=1) - a * x.mean(axis=1)
    return a, b, (var > 0) & (a < 0)


def linear_q_psi_batch(rows: np.ndarray, k_tail: int, ns: np.ndarray, kind: str) -> np.ndarray:
    """Q_psi(n) for many evaluation sets at once: [rows, len(ns)], NaN without signal."""
    a, b, ok = linear_fit_rows(rows, k_tail, kind)
    q = -(np.log(ns)[None, :] + b[:, None]) / np.where(ok, a, -1.0)[:, None]
    return np.where(ok[:, None], q, np.nan)


def check_tail_signal(obs: Observations, k_tail: int) -> np.ndarray:
    """The top k_tail psi values, or NotEnoughSignal saying what is missing."""
    if k_tail < 2:
        raise ValueError(f"k_tail {k_tail} must be at least 2 to fit a line")
    if obs.n_positive < k_tail:
        raise NotEnoughSignal(
            f"only {obs.n_positive} of {obs.m} queries have p > 0; the tail fit needs "
            f"k_tail = {k_tail}: evaluate more queries or take more samples per query"
        )
    top = top_psi(obs.psi, k_tail)
    if np.ptp(top) == 0:
        raise NotEnoughSignal("the top queries all have the same p: the tail has no slope")
    return top


def fit_linear_tail(obs: Observations, k_tail: int = K_TAIL, kind: str = "expected"):
    top = check_tail_signal(obs, k_tail)
    a, b, _ = linear_fit_rows(obs.psi[None, :], k_tail, kind)
    if not a[0] < 0:
        raise NotEnoughSignal(f"the fitted tail slope {a[0]:.3g} is not negative")
    return GumbelTail(
        a=float(a[0]), b=float(b[0]), k_tail=k_tail, m=obs.m, psi_k=float(top[-1]), name=kind
    )


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


def fit_lognormal(obs: Observations, k_tail: int = K_TAIL) -> LogNormal:
    finite = obs.psi[np.isfinite(obs.psi)]
    if finite.size < 2:
        raise NotEnoughSignal(f"only {finite.size} queries have p > 0: a normal fit needs 2")
    if np.ptp(finite) == 0:
        raise NotEnoughSignal(
            f"all {finite.size} queries with p > 0 have the same p: a normal fit needs spread"
        )
    mu, sigma = stats.norm.fit(finite)
    return LogNormal(mu=float(mu), sigma=float(sigma), zero_share=obs.n_zero / obs.m, m=obs.m)


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
