"""Optimizer state and the optimizer protocol every white-box method implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from tailscope.search.filters import Filtered, filter_candidates
from tailscope.search.objective import Objective


@dataclass
class SearchState:
    prompt: torch.Tensor  # [prompt_length] token ids
    output: torch.Tensor  # [output_length] token ids
    objective: float
    greedy_match: bool

    def to_json(self) -> dict:
        return {
            "prompt": self.prompt.tolist(),
            "output": self.output.tolist(),
            "objective": self.objective,
            "greedy_match": self.greedy_match,
        }

    @classmethod
    def from_json(cls, data: dict, device) -> SearchState:
        return cls(
            prompt=torch.tensor(data["prompt"], dtype=torch.long, device=device),
            output=torch.tensor(data["output"], dtype=torch.long, device=device),
            objective=float(data["objective"]),
            greedy_match=bool(data["greedy_match"]),
        )


@dataclass
class StepInfo:
    position: str  # e.g. "prompt[3]" or "output[0]"
    n_candidates: int  # candidates re-scored exactly this step
    dropped: dict[str, int] = field(default_factory=dict)  # filter reason -> candidates dropped
    filter_s: float = 0.0  # seconds spent filtering candidates

    @classmethod
    def after(cls, position: str, n_candidates: int, filtered: Filtered) -> StepInfo:
        return cls(position, n_candidates, filtered.dropped, filtered.seconds)


class Optimizer(ABC):
    """A candidate sampler over the shared objective: one step proposes and re-scores.

    A method registers its subclass with `@SEARCH_METHODS.register` and names its options'
    pydantic dataclass as `Config`; the constructor takes the objective and that config."""

    name: str
    summary: str  # one line for `--help`, e.g. "ARCA coordinate ascent (Jones et al. 2023)"
    Config: type

    @abstractmethod
    def step(
        self, state: SearchState, step: int, rng: torch.Generator
    ) -> tuple[SearchState, StepInfo]: ...

    def state(self) -> dict:
        """What the method keeps between steps beyond the search state, as JSON: it is
        checkpointed with the restart, so `--resume` continues exactly where a run stopped."""
        return {}

    def restore(self, saved: dict) -> None:
        """Continue from `state()` as checkpointed."""


def sample_tokens(allowed: torch.Tensor, n: int, rng: torch.Generator) -> torch.Tensor:
    """n tokens drawn uniformly from the allowed mask."""
    ids = allowed.nonzero()[:, 0]
    picks = torch.randint(len(ids), (n,), generator=rng, device="cpu").to(ids.device)
    return ids[picks]


def initial_state(
    objective: Objective,
    rng: torch.Generator,
    init_prompt: list[int] | None = None,
    attempts: int = 20,
) -> SearchState:
    """The given prompt ids, else a random allowed prompt (one that passes the candidate
    filters when possible); for a joint search, a random allowed output."""
    problem = objective.problem
    device = problem.prompt_allowed.device
    if init_prompt is not None:
        prompt = torch.tensor(init_prompt, dtype=torch.long, device=device)
    for _ in range(0 if init_prompt is not None else attempts):
        prompt = sample_tokens(problem.prompt_allowed, problem.prompt_length, rng)
        if candidate_filter(objective, prompt[None]).keep[0]:
            break
    if problem.fixed_output is not None:
        output = torch.tensor(problem.fixed_output, dtype=torch.long, device=prompt.device)
    else:
        output = sample_tokens(problem.output_allowed, problem.output_length, rng)
    return evaluate_state(objective, prompt, output)


def candidate_filter(
    objective: Objective, prompts: torch.Tensor, current: torch.Tensor | None = None
) -> Filtered:
    """The shared filters (`search/filters.py`) for the objective's problem."""
    rules = objective.problem.prompt_rules
    return filter_candidates(objective.model.tokenizer, rules, prompts, current)


def evaluate_state(objective: Objective, prompt: torch.Tensor, output: torch.Tensor) -> SearchState:
    ev = objective.evaluate(prompt[None], output[None])
    return SearchState(prompt, output, float(ev.total[0]), bool(ev.greedy_match[0]))
