"""Coordinate ascent, the engine of ARCA (Jones et al., ICML 2023) and AutoPrompt (Shin et
al., 2020); the methods themselves are `methods/arca.py` and `methods/autoprompt.py`.

Both update one token per step, cycling over the output tokens (joint search) and the
prompt tokens, and re-score their top `n_candidates` exactly in one batched pass, keeping
the current token if none is better. They differ only in how candidates are ranked:

- ARCA: the exact autoregressive term at the position (log p(v | left context), for
  output positions and, with a naturalness penalty, prompt positions), plus a first-order
  estimate of every later term averaged over `n_grad_avg` sequences holding *random*
  tokens at the coordinate, plus the exact unigram terms.
- AutoPrompt: the first-order estimate at the *current* token only (plus unigram terms,
  whose one-hot gradient they are).
"""

from __future__ import annotations

import torch

from tailscope.search.filters import Filtered
from tailscope.search.objective import Objective
from tailscope.search.state import (
    Optimizer,
    SearchState,
    StepInfo,
    candidate_filter,
    sample_tokens,
)


class CoordinateAscent(Optimizer):
    def __init__(self, objective: Objective, n_candidates: int, n_grad_avg: int | None):
        """`n_grad_avg` random tokens for ARCA's averaged gradient; None = AutoPrompt's
        gradient at the current token without the exact autoregressive term."""
        self.objective = objective
        self.n_candidates = n_candidates
        self.n_grad_avg = n_grad_avg
        problem = objective.problem
        outputs = [] if problem.fixed_output is not None else range(problem.output_length)
        self.coordinates = [("output", j) for j in outputs] + [
            ("prompt", i) for i in range(problem.prompt_length)
        ]

    def step(
        self, state: SearchState, step: int, rng: torch.Generator
    ) -> tuple[SearchState, StepInfo]:
        part, pos = self.coordinates[step % len(self.coordinates)]
        problem = self.objective.problem
        allowed = problem.prompt_allowed if part == "prompt" else problem.output_allowed
        current = int((state.prompt if part == "prompt" else state.output)[pos])

        scores = self._candidate_scores(state, part, pos, allowed, rng)
        scores = scores.masked_fill(~allowed, float("-inf"))
        scores[current] = float("-inf")
        n = min(self.n_candidates, int(allowed.sum()) - 1)
        candidates = scores.topk(n).indices

        prompts = state.prompt.repeat(n + 1, 1)
        outputs = state.output.repeat(n + 1, 1)
        (prompts if part == "prompt" else outputs)[1:, pos] = candidates
        filtered = Filtered(torch.ones(n + 1, dtype=torch.bool, device=prompts.device))
        if part == "prompt":
            filtered = candidate_filter(self.objective, prompts[1:], state.prompt)
            # The current prompt (row 0) stays available even if it fails.
            keep = torch.cat([filtered.keep.new_ones(1), filtered.keep])
            prompts, outputs = prompts[keep], outputs[keep]
        ev = self.objective.evaluate(prompts, outputs)
        best = int(ev.total.argmax())  # ties keep the current row (index 0)
        new_state = SearchState(
            prompt=prompts[best].clone(),
            output=outputs[best].clone(),
            objective=float(ev.total[best]),
            greedy_match=bool(ev.greedy_match[best]),
        )
        return new_state, StepInfo.after(f"{part}[{pos}]", prompts.shape[0] - 1, filtered)

    def _candidate_scores(self, state, part, pos, allowed, rng) -> torch.Tensor:
        k = self.n_grad_avg or 1
        prompts, outputs = state.prompt.repeat(k, 1), state.output.repeat(k, 1)
        if self.n_grad_avg:
            (prompts if part == "prompt" else outputs)[:, pos] = sample_tokens(allowed, k, rng)
        where = {"prompt_positions": [pos]} if part == "prompt" else {"output_positions": [pos]}
        grads = self.objective.gradients(prompts, outputs, **where)
        scores = grads.vocab_scores[:, 0].mean(0)
        if self.n_grad_avg:
            scores = scores + grads.next_token_terms[0, 0]
        return scores
