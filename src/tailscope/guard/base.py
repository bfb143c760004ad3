"""The guard interface: a classifier that stands between a user and a target model, and the
registry of guard kinds (`GUARDS`).

A guard acts at one **stage** of an exchange:

- `input`: before generation, on the user's prompt (with the system prompt): one score per
  prompt, `score_prompts`. A blocked prompt never reaches the target.
- `output`: while the reply streams, on the reply's tokens so far: `score_stream` returns,
  for each reply, one score per token, entry t being the guard's p(the whole reply is
  restricted | prompt, tokens 0..t). Generation halts at the first token where the
  cumulative maximum of those scores reaches the threshold, or, with `halt_after: k`, at
  the token where k tokens have scored at or above it (single-token spikes cause false
  halts: Constitutional Classifiers++). `halt_index` is that rule, shared by every guard.
- `transcript`: after generation, on prompt and reply together: `score_transcripts`.

Every score is p(restricted) in [0, 1]; a score at or above the guard's `threshold` acts.
A kind declares the stages it supports (`stages`) and its default; a guard file may pick
any supported one with `stage:`. Parameters are a pydantic model (`Params`, extending
`GuardParams`), validated by `make_guard`, so a bad value is one line and exit status 2.

A guard that reads the target's own activations (an activation probe) sets
`reads_activations = True`: it is refused on a black-box target (`check_target`), and its
`score_stream` receives `hidden`, the target's last hidden state at each reply token.

**Trained guards** load a classifier that `tailscope guard train` saved as a workspace
artifact (a directory under the workspace's `artifacts/`). Their `Params` have an
`artifact: str` field naming that directory; `make_guard` resolves a relative path against
the directory of the file that named it (the guarded-target YAML), and the guard opens the
artifact in `load()`, which the guarded backend calls once before the first exchange.
A missing or unreadable artifact raises `artifact_problem(...)`: one line naming the path
and the fix (train it, or point `artifact:` at the directory `guard train` printed), never a
traceback. Nothing is downloaded: a guard's backbone is a local model spec.

A new guard kind is one module in `tailscope/guard/guards/` with a `Guard` subclass
decorated `@GUARDS.register` (or a plugin module, `docs/extending.md`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from enum import StrEnum
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tailscope.errors import TailscopeError, first_problem
from tailscope.models.base import Capability
from tailscope.registry import Registry

if TYPE_CHECKING:
    import torch

    from tailscope.models.base import LanguageModel


class Stage(StrEnum):
    INPUT = "input"  # the prompt, before generation
    OUTPUT = "output"  # the reply's tokens as they stream
    TRANSCRIPT = "transcript"  # prompt and whole reply together


class GuardParams(BaseModel):
    """What every guard takes; a kind's `Params` extends it."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="the guard kind, e.g. keyword")
    stage: Stage | None = Field(None, description="input, output or transcript [default: kind's]")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="act when p(restricted) >= this")
    halt_after: int = Field(
        1, ge=1, description="output stage: halt once this many tokens scored >= threshold"
    )
    name: str | None = Field(None, description="label in records [default: the kind]")


class Guard(ABC):
    """One guard kind. Subclasses implement the scoring method of each stage they support."""

    kind: ClassVar[str]
    summary: ClassVar[str]  # one line for help and messages
    stages: ClassVar[frozenset[Stage]]
    default_stage: ClassVar[Stage]
    Params: ClassVar[type[GuardParams]] = GuardParams
    reads_activations: ClassVar[bool] = False
    order: ClassVar[int] = 100

    def __init__(self, params: GuardParams):
        self.params = params
        self.stage = params.stage or self.default_stage
        self.threshold = params.threshold
        self.name = params.name or self.kind

    def load(self) -> None:
        """Open what the guard needs (a trained artifact, a backbone), once, before use."""

    def start_streams(self) -> None:
        """A new generation starts: drop what was kept to read the last one's replies
        incrementally (a guard with no such state does nothing)."""

    def check_target(self, target: LanguageModel) -> None:
        """Refuse a target this guard cannot watch (one line)."""
        if self.reads_activations and Capability.WHITE_BOX not in target.capabilities:
            raise probe_on_black_box(self.name, target.name)

    def score_prompts(
        self, prompts: Sequence[str], *, system_prompt: str | None = None
    ) -> np.ndarray:
        """Input stage: p(restricted) per prompt."""
        raise NotImplementedError(f"guard {self.kind!r} has no input stage")

    def score_stream(
        self,
        prompts: Sequence[str],
        pieces: Sequence[Sequence[str]],
        *,
        system_prompt: str | None = None,
        hidden: Sequence[torch.Tensor] | None = None,
    ) -> list[np.ndarray]:
        """Output stage: for each reply so far (its token texts, which join to the reply),
        one score per token. Called again as the reply grows; a score once given for a
        token must not change when later tokens arrive (it is what streamed)."""
        raise NotImplementedError(f"guard {self.kind!r} has no output stage")

    def score_transcripts(
        self, prompts: Sequence[str], replies: Sequence[str], *, system_prompt: str | None = None
    ) -> np.ndarray:
        """Transcript stage: p(restricted) per (prompt, reply)."""
        raise NotImplementedError(f"guard {self.kind!r} has no transcript stage")

    def halt_index(self, scores: Sequence[float]) -> int | None:
        return halt_index(scores, self.threshold, self.params.halt_after)

    def describe(self) -> str:
        return f"{self.name} ({self.kind}, {self.stage}, threshold {self.threshold:g})"


def halt_index(scores: Sequence[float], threshold: float, halt_after: int = 1) -> int | None:
    """The first token at which `halt_after` tokens have scored >= threshold, or None. With
    halt_after = 1 this is where the cumulative maximum first reaches the threshold."""
    hits = np.cumsum(np.asarray(scores, dtype=np.float64) >= threshold)
    where = np.flatnonzero(hits >= halt_after)
    return int(where[0]) if where.size else None


GUARDS: Registry[type[Guard]] = Registry(
    "guard kind", packages=["tailscope.guard.guards"], key=lambda cls: cls.kind
)


def make_guard(spec: dict[str, Any], base_dir: Path | None = None) -> Guard:
    """A guard from its mapping (`{kind: keyword, threshold: 0.5, ...}`), validated; a bad
    kind, stage or parameter is one line. `base_dir` resolves a relative `artifact`."""
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise TailscopeError(
            f"a guard must be a mapping with a kind, e.g. {{kind: keyword}}; got {spec!r} "
            f"(guard kinds: {', '.join(GUARDS.names())})"
        )
    cls = GUARDS.get(spec["kind"])
    try:
        params = cls.Params.model_validate(spec)
    except ValidationError as exc:
        field, message, value = first_problem(exc)
        where = f"{field}: " if field else ""
        message = message.removeprefix("Value error, ")
        raise TailscopeError(f"guard {spec['kind']!r}: {where}{message} (got {value!r})") from None
    stage = params.stage or cls.default_stage
    if stage not in cls.stages:
        supported = ", ".join(sorted(cls.stages))
        raise TailscopeError(
            f"guard {spec['kind']!r} cannot act at stage {stage!r}: it supports {supported}"
        )
    artifact = getattr(params, "artifact", None)
    if isinstance(artifact, str) and base_dir is not None and not Path(artifact).is_absolute():
        beside = base_dir / artifact
        if beside.exists():
            params = params.model_copy(update={"artifact": str(beside.resolve())})
    return cls(params)


def artifact_problem(guard: str, path: str | Path, problem: str) -> TailscopeError:
    """The one line for a trained guard whose artifact cannot be used."""
    return TailscopeError(
        f"guard {guard!r}: artifact {path} {problem}: train it with `tailscope guard train` "
        "or set artifact: to the directory that command printed"
    )


def probe_on_black_box(guard: str, target: str) -> TailscopeError:
    return TailscopeError(
        f"guard {guard!r} reads the target's activations, but target {target!r} is "
        "black-box: use a white-box target or a classifier guard that reads text"
    )


class TextGuard(Guard):
    """A guard built on one text scorer (`score_texts`), at any stage: the prompt (input),
    every prefix of the reply (output), or prompt and reply joined (transcript)."""

    stages = frozenset(Stage)

    @abstractmethod
    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """p(restricted) per text."""

    def score_prompts(self, prompts, *, system_prompt=None) -> np.ndarray:
        return self.score_texts(list(prompts))

    def score_stream(self, prompts, pieces, *, system_prompt=None, hidden=None):
        scores = []
        for reply in pieces:
            prefixes = list(accumulate(reply))
            scores.append(self.score_texts(prefixes) if prefixes else np.zeros(0, np.float32))
        return scores

    def score_transcripts(self, prompts, replies, *, system_prompt=None) -> np.ndarray:
        return self.score_texts([f"{p}\n{r}" for p, r in zip(prompts, replies, strict=True)])
