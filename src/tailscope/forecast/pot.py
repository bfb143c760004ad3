"""Peaks over threshold: a generalized Pareto distribution on psi above the k-th value.

The threshold u is the largest psi value below the top `k_tail` (so a tie block at the
cut is left out whole, never split); the excesses psi - u of the k' values above it are
fitted by maximum likelihood (scipy.stats.genpareto, location 0). Then

    S(psi) = (k' / m) * (1 + xi (psi - u) / sigma) ** (-1 / xi),

and Q_psi(n) solves S = 1/n. The shape xi tests the Gumbel-type assumption: xi = 0 is an
exponential tail of psi (what the linear fits assume), xi > 0 heavier, xi < 0 lighter
(bounded). Its asymptotic standard error is (1 + xi) / sqrt(k') (Smith 1987, xi > -1/2).
A fit that does not converge falls back to xi = 0 (exponential excesses, closed form) and
says so in `warning`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from tailscope.forecast.data import Observations
from tailscope.forecast.tail import K_TAIL, NotEnoughSignal, tail_mean_p

MIN_EXCESSES = 3


@dataclass(frozen=True)
class GeneralizedParetoTail:
    u: float  # threshold on psi
    xi: float  # shape
    sigma: float  # scale of the excesses
    k_tail: int  # k': values above u
    m: int
    warning: str | None = None
    name: str = "pot"

    @property
    def psi_k(self) -> float:
        return self.u

    def log_survival(self, psi) -> np.ndarray:
        excess = np.maximum(np.asarray(psi, dtype=float) - self.u, 0.0)
        return math.log(self.k_tail / self.m) + stats.genpareto.logsf(
            excess, self.xi, 0, self.sigma
        )

    def q_psi(self, n) -> np.ndarray:
        scale = self.k_tail * np.asarray(n, dtype=float) / self.m  # S(u) / S(Q_psi(n))
        if abs(self.xi) < 1e-9:
            return self.u + self.sigma * np.log(scale)
        return self.u + self.sigma / self.xi * np.expm1(self.xi * np.log(scale))

    def mean_p(self, body_psi: np.ndarray) -> float:
        return tail_mean_p(self, body_psi)

    def shape_interval(self, confidence: float = 0.95) -> tuple[float, float] | None:
        """Asymptotic interval for xi; None where the normal approximation does not hold."""
        if self.warning or self.xi <= -0.5:
            return None
        half = stats.norm.ppf(0.5 + confidence / 2) * (1 + self.xi) / math.sqrt(self.k_tail)
        return float(self.xi - half), float(self.xi + half)


def fit_gpd(excess: np.ndarray) -> tuple[float, float, str | None]:
    """(xi, sigma, warning) by maximum likelihood; the exponential MLE where that fails."""
    reason = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            xi, _, sigma = stats.genpareto.fit(excess, floc=0)
        if not (math.isfinite(xi) and math.isfinite(sigma) and sigma > 0 and xi > -1):
            reason = f"the estimate xi = {xi:.3g}, sigma = {sigma:.3g} is outside the model"
    except (RuntimeWarning, ValueError, stats.FitError) as exc:
        reason = f"scipy: {exc}"
    if reason is None:
        return float(xi), float(sigma), None
    warning = (
        f"the generalized Pareto fit did not converge ({reason}); fell back to xi = 0 "
        "(exponential excesses): the pot forecast is then a Gumbel-type one"
    )
    return 0.0, float(np.mean(excess)), warning


def fit_pot(obs: Observations, k_tail: int = K_TAIL) -> GeneralizedParetoTail:
    need = max(k_tail, MIN_EXCESSES) + 1  # a threshold below MIN_EXCESSES excesses at least
    if obs.n_positive < need:
        raise NotEnoughSignal(
            f"only {obs.n_positive} of {obs.m} queries have p > 0; the peaks-over-threshold "
            f"fit needs {need}: evaluate more queries or take more samples"
        )
    ordered = np.sort(obs.psi[np.isfinite(obs.psi)])[::-1]
    u = ordered[k_tail]
    excess = ordered[ordered > u] - u
    if excess.size < MIN_EXCESSES:
        raise NotEnoughSignal(
            f"only {excess.size} queries lie above the tie block at rank {k_tail}: the "
            "peaks-over-threshold fit needs 3 distinct excesses; raise k_tail"
        )
    xi, sigma, warning = fit_gpd(excess)
    return GeneralizedParetoTail(
        u=float(u), xi=xi, sigma=sigma, k_tail=int(excess.size), m=obs.m, warning=warning
    )


def pot_q_psi_rows(rows: np.ndarray, k_tail: int, ns: np.ndarray) -> np.ndarray:
    """Q_psi(n) per row (one maximum-likelihood fit each): [rows, len(ns)], NaN without signal."""
    out = np.full((rows.shape[0], ns.size), np.nan)
    for i, row in enumerate(rows):
        finite = np.isfinite(row)
        try:
            model = fit_pot(Observations(row, int(np.sum(~finite)), 0, None), k_tail)
        except NotEnoughSignal:
            continue
        out[i] = model.q_psi(ns)
    return out
