"""Where the next evaluation queries should go: split a query budget among behaviors so
that the widest deployment-scale interval shrinks most.

For each behavior the default estimator is fitted on its evaluation set. Its interval
(forecast/intervals.py) has width (T_hi - T_lo)(m, k, n) * beta_hat in psi: with the
fitted tail held fixed, more evaluation queries shorten the extrapolation from m to n and
narrow it. The budget goes out in `STEPS` equal chunks, each to the behavior whose
expected interval (log10 p) is the widest so far: the split shrinks the widest one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.forecast.data import Observations, log10_p_from_psi
from tailscope.forecast.estimators import DEFAULT_ESTIMATOR, estimator
from tailscope.forecast.intervals import linear_interval
from tailscope.forecast.tail import K_TAIL, GumbelTail, NotEnoughSignal

STEPS = 50
DRAWS = 1000


@dataclass
class PlanRow:
    label: str
    m: int
    add: int
    log10_q_p: float
    width_now: float  # log10 p, of the 95% interval at the deployment n
    width_after: float
    low_after: float
    high_after: float


def check_budget(budget: int) -> None:
    if budget < 1:
        raise TailscopeError(f"query budget {budget} must be at least 1: pass --budget N")


def _interval(model: GumbelTail, m: int, n: int, confidence: float) -> tuple[float, float]:
    """The interval (log10 p) at n if the evaluation set had m queries, the tail unchanged."""
    grown = GumbelTail(model.a, model.b, model.k_tail, m, model.psi_k, model.name)
    low, high = linear_interval(grown, np.array([float(n)]), DRAWS, confidence, 0)
    return float(log10_p_from_psi(low[0])), float(log10_p_from_psi(high[0]))


def _fit(label: str, obs: Observations, k_tail: int) -> GumbelTail:
    try:
        return estimator(DEFAULT_ESTIMATOR).fit(obs, k_tail)
    except NotEnoughSignal as exc:
        raise TailscopeError(
            f"{label}: no forecast to plan from ({exc}); elicit more queries or samples first"
        ) from None


def plan(
    sets: list[tuple[str, Observations]],
    budget: int,
    deploy_n: int,
    *,
    k_tail: int = K_TAIL,
    confidence: float = 0.95,
) -> list[PlanRow]:
    """How many of `budget` new evaluation queries each (label, observations) should get."""
    check_budget(budget)
    if not sets:
        raise TailscopeError("no evaluation runs to plan for: pass one or more run ids")
    models = [_fit(label, obs, k_tail) for label, obs in sets]
    adds = [0] * len(sets)
    chunk = max(1, math.ceil(budget / STEPS))
    spent = 0
    while spent < budget:
        step = min(chunk, budget - spent)
        widths = [
            np.subtract(*_interval(mod, obs.m + add, deploy_n, confidence)[::-1])
            for mod, (_, obs), add in zip(models, sets, adds, strict=True)
        ]
        adds[int(np.argmax(widths))] += step
        spent += step
    return [
        _row(label, obs, model, add, deploy_n, confidence)
        for (label, obs), model, add in zip(sets, models, adds, strict=True)
    ]


def _row(label, obs, model, add, deploy_n, confidence) -> PlanRow:
    low_now, high_now = _interval(model, obs.m, deploy_n, confidence)
    low, high = _interval(model, obs.m + add, deploy_n, confidence)
    return PlanRow(
        label=label,
        m=obs.m,
        add=add,
        log10_q_p=float(log10_p_from_psi(model.q_psi(deploy_n))),
        width_now=high_now - low_now,
        width_after=high - low,
        low_after=low,
        high_after=high,
    )


def plan_json(rows: list[PlanRow]) -> list[dict]:
    return [asdict(r) for r in rows]
