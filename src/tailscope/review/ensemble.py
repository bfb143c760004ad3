"""Uncertainty from labels: a bagged ensemble of small classifiers over item features (e.g.
MiniLM embeddings), its members' disagreement as epistemic uncertainty, and selective
prediction (risk–coverage, AURC) for deciding where to abstain. Gleave & Irving (2022) found
ensembles on one pretrained model disagree too little to guide labelling, so
`uncertainty_error_correlation` measures how well disagreement tracks real errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from tailscope.errors import TailscopeError


class BaggedEnsemble:
    """`members` logistic regressions, each fitted on a bootstrap resample of the labels."""

    def __init__(self, members: int = 10, seed: int = 0):
        if members < 2:
            raise TailscopeError(f"an ensemble needs at least 2 members, not {members}")
        self.members = members
        self.seed = seed
        self._models: list = []

    def fit(self, features: np.ndarray, labels: np.ndarray) -> BaggedEnsemble:
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels, dtype=int)
        if len(set(labels.tolist())) < 2:
            raise TailscopeError("an ensemble needs labelled items of both classes")
        rng = np.random.default_rng(self.seed)
        self._models = []
        while len(self._models) < self.members:
            sample = rng.integers(0, len(labels), len(labels))
            if len(set(labels[sample].tolist())) < 2:
                continue  # a resample with one class cannot train a classifier
            model = LogisticRegression(max_iter=1000).fit(features[sample], labels[sample])
            self._models.append(model)
        return self

    def member_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(members, items): each member's P(present)."""
        return np.stack([m.predict_proba(features)[:, 1] for m in self._models])

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mean P(present) and the members' disagreement (their standard deviation)."""
        members = self.member_probabilities(features)
        return members.mean(axis=0), members.std(axis=0)


@dataclass(frozen=True)
class RiskCoverage:
    coverage: np.ndarray  # k / n for k = 1..n, most confident items first
    risk: np.ndarray  # error rate among the k most confident items
    aurc: float  # area under the curve: the mean risk over all coverages


def risk_coverage(confidence: np.ndarray, errors: np.ndarray) -> RiskCoverage:
    """Selective prediction: answer the most confident items first and abstain on the rest.
    Ties in confidence keep their given order."""
    errors = np.asarray(errors, dtype=float)
    order = np.argsort(-np.asarray(confidence, dtype=float), kind="stable")
    counts = np.arange(1, len(errors) + 1)
    risk = np.cumsum(errors[order]) / counts
    return RiskCoverage(counts / len(errors), risk, float(risk.mean()))


def uncertainty_error_correlation(uncertainty: np.ndarray, errors: np.ndarray) -> float:
    """Spearman's rank correlation between uncertainty and being wrong (NaN when either is
    constant): near 0 means the uncertainty does not say where the errors are."""
    if np.ptp(uncertainty) == 0 or np.ptp(errors) == 0:
        return float("nan")
    return float(stats.spearmanr(uncertainty, errors).statistic)


def abstain(mean: np.ndarray, disagreement: np.ndarray, band: float, max_spread: float):
    """Where to defer to a human: a mean P(present) within `band` of 0.5, or members that
    disagree by more than `max_spread`."""
    return (np.abs(np.asarray(mean) - 0.5) < band) | (np.asarray(disagreement) > max_spread)
