"""ARCA: Autoregressive Randomized Coordinate Ascent (Jones et al., ICML 2023).

Cyclic coordinate ascent over the output tokens (joint search) and the prompt tokens.
For one coordinate every vocabulary token gets an approximate score:

- the exact autoregressive term at that position (log p(v | left context), for output
  positions and, with a naturalness penalty, prompt positions),
- a first-order estimate of how v changes every later term, averaged over `n_grad_avg`
  sequences holding *random* tokens at the coordinate (not the current token: the
  average makes the linearisation less local, which is ARCA's main difference from
  AutoPrompt),
- the exact unigram terms of the behavior's detectors.

The top `n_candidates` are then re-scored exactly in one batched pass and the best one,
or the current token if none is better, is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tailscope.search.objective import Objective
from tailscope.search.state import SearchState, StepInfo, sample_tokens
from tailscope.search.tokens import survives_round_trip


@dataclass
class ArcaConfig:
    n_grad_avg: int = 8
    n_candidates: int = 32


class Arca:
    name = "arca"

    def __init__(self, objective: Objective, config: ArcaConfig):
        self.objective = objective
        self.config = config
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
        unigram = problem.prompt_unigram if part == "prompt" else problem.output_unigram

        k = self.config.n_grad_avg
        prompts, outputs = state.prompt.repeat(k, 1), state.output.repeat(k, 1)
        varied = prompts if part == "prompt" else outputs
        varied[:, pos] = sample_tokens(allowed, k, rng)
        grads = self.objective.gradients(prompts, outputs, part, [pos])
        scores = grads.vocab_scores[:, 0].mean(0) + grads.next_token_terms[0, 0] + unigram
        current = int((state.prompt if part == "prompt" else state.output)[pos])
        scores = scores.masked_fill(~allowed, float("-inf"))
        scores[current] = float("-inf")
        n = min(self.config.n_candidates, int(allowed.sum()) - 1)
        candidates = scores.topk(n).indices

        prompts = state.prompt.repeat(n + 1, 1)
        outputs = state.output.repeat(n + 1, 1)
        (prompts if part == "prompt" else outputs)[1:, pos] = candidates
        if part == "prompt":
            keep = survives_round_trip(self.objective.model.tokenizer, prompts)
            keep[0] = True  # the current prompt stays available even if it fails
            prompts, outputs = prompts[keep], outputs[keep]
        ev = self.objective.evaluate(prompts, outputs)
        best = int(ev.total.argmax())  # ties keep the current row (index 0)
        new_state = SearchState(
            prompt=prompts[best].clone(),
            output=outputs[best].clone(),
            objective=float(ev.total[best]),
            greedy_match=bool(ev.greedy_match[best]),
        )
        return new_state, StepInfo(position=f"{part}[{pos}]", n_candidates=prompts.shape[0] - 1)
