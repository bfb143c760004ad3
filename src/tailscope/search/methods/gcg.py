"""GCG: Greedy Coordinate Gradient (Zou et al., 2023), as a candidate sampler over the core.

Each step: one forward/backward gives one-hot token gradients at every optimized position;
the `topk` best tokens per position (current token and disallowed tokens excluded) form
the proposal; `search_width` candidates each replace `n_replace` random positions with a
random proposal token; candidates the shared filters reject (decode→encode round trip,
forbidden text, optionally the prompt detectors: `search/filters.py`) are dropped; the rest
are scored exactly in batches over the cached template prefix. A buffer of the
`buffer_size` best prompts seen is kept and the next step starts from its best; with
`buffer_size` 0 the search always moves to the step's best candidate (nanoGCG's default).
The buffer is checkpointed with the restart (`state()`), so `--resume` keeps it.
In a joint search the output positions are optimized the same way as the prompt's.
"""

from __future__ import annotations

import torch
from pydantic import Field
from pydantic.dataclasses import dataclass

from tailscope.search.methods import SEARCH_METHODS
from tailscope.search.objective import Objective
from tailscope.search.state import Optimizer, SearchState, StepInfo, candidate_filter


@dataclass
class GcgConfig:
    search_width: int = Field(512, ge=1)
    topk: int = Field(256, ge=1)
    n_replace: int = Field(1, ge=1)
    buffer_size: int = Field(0, ge=0)


@SEARCH_METHODS.register
class Gcg(Optimizer):
    name = "gcg"
    summary = "Greedy Coordinate Gradient (Zou et al. 2023)"
    Config = GcgConfig
    order = 1

    def __init__(self, objective: Objective, config: GcgConfig):
        self.objective = objective
        self.config = config
        self.buffer: list[SearchState] = []  # best first
        problem = objective.problem
        self.n_prompt = problem.prompt_length
        self.n_output = 0 if problem.fixed_output is not None else problem.output_length
        self.allowed = torch.stack(
            [problem.prompt_allowed] * self.n_prompt + [problem.output_allowed] * self.n_output
        )

    def step(
        self, state: SearchState, step: int, rng: torch.Generator
    ) -> tuple[SearchState, StepInfo]:
        if not self.buffer:
            self._remember(state)
        current = self.buffer[0]
        tokens = torch.cat([current.prompt, current.output[: self.n_output]])
        proposals = self.proposals(current, tokens)
        candidates = self.sample_candidates(tokens, proposals, rng)
        prompts, outputs = self._split(candidates, current)
        filtered = candidate_filter(self.objective, prompts, current.prompt)
        keep = filtered.keep
        if not keep.any():
            return current, StepInfo.after("all", 0, filtered)
        prompts, outputs = prompts[keep], outputs[keep]
        ev = self.objective.evaluate(prompts, outputs)
        best = int(ev.total.argmax())
        found = SearchState(
            prompt=prompts[best].clone(),
            output=outputs[best].clone(),
            objective=float(ev.total[best]),
            greedy_match=bool(ev.greedy_match[best]),
        )
        self._remember(found)
        return self.buffer[0], StepInfo.after("all", int(keep.sum()), filtered)

    def state(self) -> dict:
        return {"buffer": [s.to_json() for s in self.buffer]}

    def restore(self, saved: dict) -> None:
        device = self.objective.device
        self.buffer = [SearchState.from_json(s, device) for s in saved.get("buffer", [])]

    def proposals(self, current: SearchState, tokens: torch.Tensor) -> torch.Tensor:
        """[positions, topk] token ids ranked by the one-hot gradient at each position."""
        grads = self.objective.gradients(
            current.prompt[None],
            current.output[None],
            prompt_positions=list(range(self.n_prompt)),
            output_positions=list(range(self.n_output)),
        )
        scores = grads.vocab_scores[0].masked_fill(~self.allowed, float("-inf"))
        scores.scatter_(1, tokens[:, None], float("-inf"))  # a swap must change the token
        k = min(self.config.topk, int(self.allowed.sum(1).min()) - 1)
        return scores.topk(k, dim=1).indices

    def sample_candidates(
        self, tokens: torch.Tensor, proposals: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        """`search_width` rows, each differing from `tokens` in exactly `n_replace` positions."""
        width, n_positions = self.config.search_width, tokens.shape[0]
        n_replace = min(self.config.n_replace, n_positions)
        noise = torch.rand(width, n_positions, generator=rng)
        positions = noise.argsort(dim=1)[:, :n_replace].to(tokens.device)
        picks = torch.randint(proposals.shape[1], (width, n_replace), generator=rng)
        new_tokens = proposals[positions, picks.to(tokens.device)]
        return tokens.repeat(width, 1).scatter_(1, positions, new_tokens)

    def _split(self, candidates: torch.Tensor, current: SearchState):
        prompts = candidates[:, : self.n_prompt]
        if self.n_output:
            return prompts, candidates[:, self.n_prompt :]
        return prompts, current.output.repeat(candidates.shape[0], 1)

    def _remember(self, found: SearchState) -> None:
        if self.config.buffer_size == 0:
            self.buffer = [found]
            return
        self.buffer = sorted([*self.buffer, found], key=lambda s: -s.objective)
        self.buffer = self.buffer[: self.config.buffer_size]
