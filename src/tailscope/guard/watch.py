"""Watching replies as they stream: the output guards score each reply's tokens so far, and
a reply halts at the first token where one of them acts (`Guard.halt_index`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tailscope.guard.base import Guard

_PIECE = re.compile(r"\s*\S+|\s+$")


def text_pieces(text: str) -> list[str]:
    """A reply split into word-sized pieces that join back to it: the "tokens" a streaming
    guard sees when the target is black-box and its own tokens are unknown."""
    return _PIECE.findall(text)


@dataclass(frozen=True)
class GuardAction:
    """Which guard acted on a reply, at which stage, where and with what score."""

    guard: str
    stage: str
    score: float
    token: int | None = None  # output stage: the reply token at which it halted

    def to_json(self) -> dict:
        return {"guard": self.guard, "stage": self.stage, "score": self.score, "token": self.token}


@dataclass
class ReplyWatch:
    """One streaming reply: its pieces so far, every output guard's scores, the halt."""

    prompt: str
    pieces: list[str] = field(default_factory=list)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    halt: GuardAction | None = None


class StreamWatcher:
    """The output guards over a batch of streaming replies (one per row)."""

    def __init__(self, guards: Sequence[Guard], prompts: Sequence[str], system_prompt, every=1):
        self.guards = list(guards)
        for guard in self.guards:
            guard.start_streams()
        self.rows = [ReplyWatch(p) for p in prompts]
        self.system_prompt = system_prompt
        self.every = every

    def halted(self) -> list[bool]:
        return [row.halt is not None for row in self.rows]

    def update(self, pieces: Sequence[Sequence[str]], hidden=None) -> None:
        """Score the rows' replies so far (`pieces[i]` extends what row i had) and halt
        the rows where a guard acts. `hidden[i]`: the target's emitting states, if read."""
        active = [i for i, row in enumerate(self.rows) if row.halt is None]
        for i in active:
            self.rows[i].pieces = list(pieces[i])
        if not active or not self.guards:
            return
        for guard in self.guards:
            states = [hidden[i] for i in active] if hidden is not None else None
            scored = guard.score_stream(
                [self.rows[i].prompt for i in active],
                [self.rows[i].pieces for i in active],
                system_prompt=self.system_prompt,
                hidden=states if guard.reads_activations else None,
            )
            for i, scores in zip(active, scored, strict=True):
                self._keep(self.rows[i], guard, np.asarray(scores, dtype=np.float64))
        for i in active:
            self._decide(self.rows[i])

    @staticmethod
    def _keep(row: ReplyWatch, guard: Guard, scores: np.ndarray) -> None:
        # Scores already streamed stay as they were; only new tokens' scores are taken.
        known = row.scores.get(guard.name, np.zeros(0))
        row.scores[guard.name] = np.concatenate([known, scores[len(known) :]])

    def _decide(self, row: ReplyWatch) -> None:
        halts = []
        for guard in self.guards:
            scores = row.scores.get(guard.name, np.zeros(0))
            token = guard.halt_index(scores)
            if token is not None:
                halts.append((token, guard.name, float(scores[token])))
        if halts:
            token, name, score = min(halts)
            row.halt = GuardAction(name, "output", score, token)

    def delivered(self, i: int) -> str:
        """What row i showed the user: every chunk of `every` tokens before the halted one
        (a chunk is released only after the guards passed it), or the whole reply."""
        row = self.rows[i]
        if row.halt is None:
            return "".join(row.pieces)
        released = (row.halt.token // self.every) * self.every
        return "".join(row.pieces[:released])
