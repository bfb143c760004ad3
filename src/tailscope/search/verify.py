"""The real success check: send the found prompt back as text, exactly as a user would.

Token-level success (the greedy continuation of these ids is the output) is what the
optimizer sees; it is not enough. The prompt is decoded to text, re-encoded through the
chat template and system prompt, and a real greedy `generate` call must reproduce the
output; the behavior's detectors and constraints must pass on the decoded texts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from tailscope.models.base import WhiteBoxModel
from tailscope.search.problem import SearchProblem
from tailscope.search.state import SearchState

if TYPE_CHECKING:
    from tailscope.behaviors.spec import Behavior


@dataclass
class Verification:
    status: str  # success | ids_only | constraint_failed | no_match
    prompt: str  # the optimized text (after any fixed prefix)
    reply: str  # the model's real greedy reply to prefix + prompt
    target_output: str  # the output the optimizer aimed for, decoded
    roundtrip_ok: bool  # the prompt text re-encodes to the optimized ids
    greedy_match: bool  # the real reply equals the target output
    output_ok: bool  # the behavior's output condition holds on the real reply
    prompt_ok: bool  # the behavior's prompt constraints hold on the prompt text
    scores: dict

    @property
    def success(self) -> bool:
        return self.status == "success"

    def to_json(self) -> dict:
        data = asdict(self)
        data["success"] = self.success
        return data


def verify(
    model: WhiteBoxModel, behavior: Behavior, problem: SearchProblem, state: SearchState
) -> Verification:
    prompt = model.decode(state.prompt.tolist())
    target = model.decode(state.output.tolist())
    reply = model.generate(
        [problem.user_text(prompt)],
        max_new_tokens=problem.output_length,
        system_prompt=problem.system_prompt,
    )[0][0]
    greedy_match = reply.strip() == target.strip()
    output_ok = bool(behavior.output_ok([reply])[0])
    prompt_ok = bool(behavior.prompt_ok([prompt])[0])
    if greedy_match and output_ok and prompt_ok:
        status = "success"
    elif state.greedy_match and not greedy_match:
        status = "ids_only"  # works as raw token ids, not as text a user could type
    elif greedy_match:
        status = "constraint_failed"
    else:
        status = "no_match"
    scores = {"output": behavior.output_scores([reply]), "prompt": behavior.prompt_scores([prompt])}
    scores = {part: {k: float(v[0]) for k, v in named.items()} for part, named in scores.items()}
    return Verification(
        status=status,
        prompt=prompt,
        reply=reply,
        target_output=target,
        roundtrip_ok=model.encode(prompt) == state.prompt.tolist(),
        greedy_match=greedy_match,
        output_ok=output_ok,
        prompt_ok=prompt_ok,
        scores=scores,
    )
