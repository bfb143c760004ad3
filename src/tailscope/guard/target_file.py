"""The guarded-target file: a target model, its guards with their thresholds, and the text a
blocked user sees. `guarded:FILE.yaml` (or a `.yaml` model spec with a `guards:` field):

    target: smollm2-135m-instruct      # any model spec; a relative path is beside this file
    system_prompt: You are ...         # optional, as in a target file
    refusal: I can't help with that.   # what a blocked or halted reply says
    stream_every: 1                    # output guards check every k tokens (a chunk)
    on_halt: truncate                  # truncate: keep what streamed before a halt;
                                       # refuse: the whole reply becomes the refusal
    guards:
      - {kind: keyword, stage: input, keywords: [tension wrench], threshold: 0.5}
      - {kind: detector, stage: output, detector: {kind: toxicity}, threshold: 0.8}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tailscope.errors import TailscopeError, first_problem
from tailscope.files import read_mapping
from tailscope.guard.base import Guard, make_guard

DEFAULT_REFUSAL = "I can't help with that."


class GuardedTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = Field(min_length=1)
    system_prompt: str | None = None
    refusal: str = DEFAULT_REFUSAL
    stream_every: int = Field(1, ge=1)
    on_halt: Literal["truncate", "refuse"] = "truncate"
    guards: list[dict[str, Any]] = Field(min_length=1)


def read_guarded_target(path: Path) -> tuple[GuardedTarget, Path]:
    """The file's settings, checked, and the directory relative paths start from."""
    label = f"guarded-target file {path}"
    if not path.is_file():
        raise TailscopeError(f"{label} not found: check the path")
    raw = read_mapping(path, label, "with target and guards (and refusal, stream_every, on_halt)")
    try:
        settings = GuardedTarget.model_validate(raw)
    except ValidationError as exc:
        field, message, value = first_problem(exc)
        raise TailscopeError(f"{label}: {field}: {message} (got {value!r})") from None
    return settings, path.resolve().parent


def target_spec(settings: GuardedTarget, base: Path) -> str:
    """The wrapped target's model spec, a relative path beside the file made absolute."""
    inner = settings.target.strip()
    prefix, sep, rest = inner.partition(":")
    head, location = (f"{prefix}:", rest) if sep and "/" not in prefix else ("", inner)
    candidate = base / location
    if location and not Path(location).is_absolute() and candidate.exists():
        return head + str(candidate.resolve())
    return inner


def build_guards(settings: GuardedTarget, base: Path) -> list[Guard]:
    guards = [make_guard(spec, base) for spec in settings.guards]
    names = [g.name for g in guards]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TailscopeError(
            f"two guards are both named {repeated[0]!r}: give each a distinct `name:` "
            "(a reply records which guard acted)"
        )
    return guards
