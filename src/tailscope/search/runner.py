"""One restart of any optimizer: step until success or budget, verifying for real.

The loop is method-agnostic: an optimizer only proposes and re-scores. Verification
(decode, re-encode, real greedy generation, detectors) runs whenever the token-level
greedy continuation matches, and the restart ends early on a verified success.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from tailscope.search.state import Optimizer, SearchState
from tailscope.search.verify import Verification


@dataclass
class Budget:
    max_steps: int | None = None
    max_seconds: float | None = None

    def exhausted(self, steps: int, seconds: float) -> bool:
        return (self.max_steps is not None and steps >= self.max_steps) or (
            self.max_seconds is not None and seconds >= self.max_seconds
        )


@dataclass
class Progress:
    """Where a restart stands; saved as its checkpoint so a killed run continues from here."""

    state: SearchState
    step: int = 0
    elapsed_s: float = 0.0
    success_step: int | None = None
    success_s: float | None = None


@dataclass
class RestartOutcome:
    state: SearchState
    verification: Verification
    steps: int
    elapsed_s: float
    success_step: int | None
    success_s: float | None


def run_restart(
    optimizer: Optimizer,
    progress: Progress,
    budget: Budget,
    rng: torch.Generator,
    verify: Callable[[SearchState], Verification],
    on_step: Callable[[dict, Progress], None] = lambda row, progress: None,
) -> RestartOutcome:
    checked: dict[tuple, Verification] = {}

    def check(state: SearchState) -> Verification:
        key = (tuple(state.prompt.tolist()), tuple(state.output.tolist()))
        if key not in checked:
            checked[key] = verify(state)
        return checked[key]

    best_objective = progress.state.objective
    started = time.perf_counter() - progress.elapsed_s
    while progress.success_step is None and not budget.exhausted(progress.step, progress.elapsed_s):
        state, info = optimizer.step(progress.state, progress.step, rng)
        progress.state = state
        progress.step += 1
        progress.elapsed_s = time.perf_counter() - started
        best_objective = max(best_objective, state.objective)
        verified = check(state) if state.greedy_match else None
        row = {
            "step": progress.step,
            "objective": state.objective,
            "best_objective": best_objective,
            "n_candidates": info.n_candidates,
            "dropped": info.dropped,
            "filter_s": round(info.filter_s, 4),
            "position": info.position,
            "elapsed_s": round(progress.elapsed_s, 4),
            "greedy_match": state.greedy_match,
            "verified": verified.status if verified else None,
        }
        if verified is not None and verified.success:
            progress.success_step, progress.success_s = progress.step, progress.elapsed_s
        on_step(row, progress)
    return RestartOutcome(
        state=progress.state,
        verification=check(progress.state),
        steps=progress.step,
        elapsed_s=progress.elapsed_s,
        success_step=progress.success_step,
        success_s=progress.success_s,
    )
