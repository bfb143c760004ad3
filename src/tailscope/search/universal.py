"""Universal mode: one optimized prompt span shared by several requests (summed objective).

Each request is its own behavior with a fixed target (e.g. GCG's "request → Sure, here
is ..."), so each keeps its own chat layout, prefix cache and output. The universal
objective presents them to any optimizer as a single problem: the outputs of all requests
concatenated (fixed, never optimized) and one prompt span scored against every request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from tailscope.errors import TailscopeError
from tailscope.search.objective import Evaluation, Gradients, Objective
from tailscope.search.problem import SearchProblem
from tailscope.search.state import SearchState


def check_universal(problems: list[SearchProblem]) -> None:
    if any(p.fixed_output is None for p in problems):
        raise TailscopeError(
            "universal mode needs behaviors with an exact target (e.g. say): "
            "a joint search has no shared output to sum over"
        )
    lengths = sorted({p.prompt_length for p in problems})
    if len(lengths) != 1:
        raise TailscopeError(
            f"universal mode needs one prompt length for all behaviors, got {lengths}: "
            "pass --prompt-length"
        )


class UniversalObjective:
    def __init__(self, parts: list[Objective]):
        check_universal([p.problem for p in parts])
        self.parts = parts
        self.model = parts[0].model
        self.device = parts[0].device
        self.lengths = [p.problem.output_length for p in parts]
        first = parts[0].problem
        allowed = first.prompt_allowed.clone()
        rules = first.prompt_rules
        for p in parts[1:]:
            allowed &= p.problem.prompt_allowed
            rules = rules.merged(p.problem.prompt_rules)
        self.problem = replace(
            first,
            fixed_output=[t for p in parts for t in p.problem.fixed_output],
            output_length=sum(self.lengths),
            prompt_allowed=allowed,
            prompt_rules=rules,
            prompt_unigram=sum(p.problem.prompt_unigram for p in parts),
        )

    @property
    def forward_tokens(self) -> int:
        return sum(p.forward_tokens for p in self.parts)

    @property
    def backward_tokens(self) -> int:
        return sum(p.backward_tokens for p in self.parts)

    def split(self, outputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(outputs, self.lengths, dim=-1)

    def evaluate(self, prompts: torch.Tensor, outputs: torch.Tensor) -> Evaluation:
        evs = [p.evaluate(prompts, o) for p, o in zip(self.parts, self.split(outputs), strict=True)]
        return Evaluation(
            total=sum(e.total for e in evs),
            output_logprob=sum(e.output_logprob for e in evs),
            greedy_match=torch.stack([e.greedy_match for e in evs]).all(0),
            greedy_next=torch.cat([e.greedy_next for e in evs], dim=-1),
        )

    def gradients(self, prompts, outputs, prompt_positions=(), output_positions=()) -> Gradients:
        if output_positions:
            raise ValueError("universal mode optimizes the prompt only")
        grads = [
            p.gradients(prompts, o, prompt_positions=prompt_positions)
            for p, o in zip(self.parts, self.split(outputs), strict=True)
        ]
        return Gradients(
            vocab_scores=sum(g.vocab_scores for g in grads),
            next_token_terms=sum(g.next_token_terms for g in grads),
        )

    def part_states(self, state: SearchState) -> list[SearchState]:
        """The shared prompt with each request's own output, evaluated on its own."""
        states = []
        for part, output in zip(self.parts, self.split(state.output), strict=True):
            ev = part.evaluate(state.prompt[None], output[None])
            states.append(
                SearchState(state.prompt, output, float(ev.total[0]), bool(ev.greedy_match[0]))
            )
        return states


@dataclass
class UniversalVerification:
    """Per-request verifications of one shared prompt; a success only if all succeed."""

    parts: list

    @property
    def success(self) -> bool:
        return all(v.success for v in self.parts)

    @property
    def status(self) -> str:
        return (
            "success" if self.success else f"{sum(v.success for v in self.parts)}/{len(self.parts)}"
        )
