"""What a white-box search optimizes: token layout, lengths, allowed tokens, unigram terms.

A `SearchProblem` is built once per (model, behavior, run settings) and shared by every
optimizer; it holds no optimizer state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from tailscope.behaviors.spec import MAX_LENGTH
from tailscope.errors import TailscopeError
from tailscope.models.base import ChatLayout, WhiteBoxModel
from tailscope.search.filters import PromptRules
from tailscope.search.tokens import allowed_tokens

if TYPE_CHECKING:
    from tailscope.behaviors.spec import Behavior

# Keeps log(score) finite for tokens a detector scores 0 or 1.
_LOG_FLOOR = 1e-4


@dataclass
class SearchProblem:
    layout: ChatLayout
    prompt_length: int
    output_length: int
    fixed_output: list[int] | None
    prompt_allowed: torch.Tensor  # bool [vocab]
    output_allowed: torch.Tensor  # bool [vocab]
    prompt_unigram: torch.Tensor  # float [vocab], summed over prompt tokens
    output_unigram: torch.Tensor  # float [vocab], summed over output tokens
    lam_logprob: float = 1.0
    lam_perp: float = 0.0
    output_loss: str = "logprob"  # or "mellowmax" (GCG)
    mellowmax_alpha: float = 1.0
    system_prompt: str | None = None
    user_prefix: str = ""  # fixed user text before the optimized span
    user_suffix: str = ""  # fixed user text after it
    prompt_rules: PromptRules = field(default_factory=PromptRules)  # candidate filters

    def user_text(self, prompt: str) -> str:
        """The whole user turn a person would type for this optimized prompt text."""
        return self.user_prefix + prompt + self.user_suffix

    @property
    def joint(self) -> bool:
        """True when the output is optimized too (the behavior has no fixed target)."""
        return self.fixed_output is None


def unigram_log_terms(scores: np.ndarray, direction: str, weight: float) -> np.ndarray:
    """Per-token log terms from a detector's token table: log s for min, log(1 - s) for max.

    NaN entries (tokens the detector cannot judge, e.g. punctuation for a language) are neutral.
    """
    s = np.clip(scores.astype(np.float64), _LOG_FLOOR, 1 - _LOG_FLOOR)
    terms = np.log(s) if direction == "min" else np.log1p(-s)
    return weight * np.nan_to_num(terms, nan=0.0)


def build_problem(
    model: WhiteBoxModel,
    behavior: Behavior,
    *,
    prompt_length: int | None = None,
    output_length: int | None = None,
    unigram_weight: float = 1.0,
    lam_logprob: float = 1.0,
    lam_perp: float = 0.0,
    allow_non_ascii: bool = False,
    system_prompt: str | None = None,
    placement: str = "suffix",
    output_loss: str = "logprob",
    mellowmax_alpha: float = 1.0,
    candidate_constraints: bool = False,
) -> SearchProblem:
    """The problem for one behavior. `placement` puts the optimized span after ("suffix")
    or before ("prefix") the behavior's fixed request text in the user turn;
    `candidate_constraints` checks the behavior's prompt detectors on every candidate."""
    if prompt_length is None:
        prompt_length = behavior.prompt_length
    system_prompt = system_prompt if system_prompt is not None else behavior.system_prompt
    user_prefix, user_suffix = _fixed_user_text(behavior.prompt_prefix, placement)
    layout = model.chat_layout(system_prompt, user_prefix, user_suffix)
    vocab = model.vocab_size

    fixed_output, output_length = _output(model, behavior, output_length)
    _check_lengths(model, layout, prompt_length, output_length)

    forbidden_texts = list(behavior.forbid_in_prompt)
    prompt_allowed = allowed_tokens(model.tokenizer, vocab, allow_non_ascii, forbidden_texts)
    output_allowed = allowed_tokens(model.tokenizer, vocab, allow_non_ascii, [])
    prompt_unigram, output_unigram = _unigram_terms(model, behavior, fixed_output, unigram_weight)

    device = model.device
    return SearchProblem(
        layout=layout,
        prompt_length=prompt_length,
        output_length=output_length,
        fixed_output=fixed_output,
        prompt_allowed=prompt_allowed.to(device),
        output_allowed=output_allowed.to(device),
        prompt_unigram=torch.tensor(prompt_unigram, dtype=torch.float32, device=device),
        output_unigram=torch.tensor(output_unigram, dtype=torch.float32, device=device),
        lam_logprob=lam_logprob,
        lam_perp=lam_perp,
        system_prompt=system_prompt,
        user_prefix=user_prefix,
        user_suffix=user_suffix,
        output_loss=output_loss,
        mellowmax_alpha=mellowmax_alpha,
        prompt_rules=_prompt_rules(behavior, candidate_constraints),
    )


def _prompt_rules(behavior: Behavior, candidate_constraints: bool) -> PromptRules:
    check = behavior.prompt_ok if candidate_constraints and behavior.constraints else None
    return PromptRules.of(behavior.forbid_in_prompt, check)


def _output(model: WhiteBoxModel, behavior: Behavior, output_length: int | None):
    """(fixed output ids or None, output length): a target's tokens, else a joint search's
    length."""
    if not behavior.is_fixed_output:
        return None, behavior.output_length if output_length is None else output_length
    fixed_output = model.encode(behavior.output.target)
    if not fixed_output:
        raise TailscopeError(
            f"behavior {behavior.name!r}: the target tokenizes to nothing; give a non-empty target"
        )
    return fixed_output, len(fixed_output)


def _unigram_terms(model: WhiteBoxModel, behavior: Behavior, fixed_output, weight: float):
    """Per-vocabulary log terms of the prompt constraints' and (joint search) the output
    detector's token tables."""
    vocab = model.vocab_size
    prompt_unigram = np.zeros(vocab)
    for detector, direction, _bound in behavior.constraint_detectors():
        table = detector.token_scores(model.tokenizer)
        if table is not None:
            prompt_unigram += unigram_log_terms(table[:vocab], direction, weight)
    output_unigram = np.zeros(vocab)
    detector = behavior.output_detector()
    if fixed_output is None and detector is not None:
        table = detector.token_scores(model.tokenizer)
        if table is None:
            raise TailscopeError(
                f"behavior {behavior.name!r}: detector {detector.describe()} cannot score single "
                "tokens, so a joint search has no signal; give the behavior an exact output target"
            )
        output_unigram += unigram_log_terms(table[:vocab], "min", weight)
    return prompt_unigram, output_unigram


def _check_lengths(
    model: WhiteBoxModel, layout: ChatLayout, prompt_length: int, output_length: int
) -> None:
    for label, value in (("prompt length", prompt_length), ("output length", output_length)):
        if not 1 <= value <= MAX_LENGTH:
            raise TailscopeError(f"{label} {value} is out of range: use 1 to {MAX_LENGTH} tokens")
    context = model.context_length
    total = len(layout.before) + prompt_length + len(layout.after) + output_length
    if context is not None and total > context:
        raise TailscopeError(
            f"the prompt and output ({total} tokens with the chat template) exceed the model's "
            f"context of {context}: use shorter lengths or a shorter system prompt"
        )


def _fixed_user_text(request: str, placement: str) -> tuple[str, str]:
    """Fixed user text before and after the optimized span, joined by one space."""
    if placement not in ("suffix", "prefix"):
        raise TailscopeError(f"unknown placement {placement!r}: use suffix or prefix")
    if not request:
        return "", ""
    if placement == "suffix":
        return (request if request[-1].isspace() else request + " "), ""
    return "", (request if request[0].isspace() else " " + request)
