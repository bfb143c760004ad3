"""Streaming output guards: a per-token value head that predicts, at every reply token,
whether the whole exchange is restricted, trained with the cumulative-maximum loss of
Constitutional Classifiers (`guard/heads.py`). Halting uses the running maximum of its
scores (`Guard.halt_index`).

- `value-head` (variant b): a separate classifier, a backbone model (the default model
  unless trained otherwise) that re-reads the prompt and the streamed reply text, so it
  watches any target, black-box too. A streamed token's score is the head's score at the
  last backbone token that ends within the reply so far; the backbone keeps each reply's
  KV cache, so a streamed token costs a forward pass over the new tokens only. At the
  transcript stage it reads the whole exchange and scores its running maximum at the end.
- `activation-probe` (variant a, Constitutional Classifiers++): the same head on the
  *target's own* last hidden states, the ones that emitted each token, which the guarded
  backend hands over while generating: nearly free, and white-box targets only."""

from __future__ import annotations

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.guard.base import GUARDS, Stage
from tailscope.guard.features import exchange_states, piece_positions
from tailscope.guard.streaming import StreamReader
from tailscope.guard.trained import TrainedGuard


@GUARDS.register
class ValueHead(TrainedGuard):
    kind = "value-head"
    summary = "a trained per-token value head on a backbone re-reading the reply (guard train)"
    classifier = "value-head"
    stages = frozenset({Stage.OUTPUT, Stage.TRANSCRIPT})
    default_stage = Stage.OUTPUT
    order = 31

    def token_scores(self, prompts, replies, system_prompt=None):
        """Per reply, the head's score at each backbone token of the reply, and where each
        token ends."""
        self.load()
        systems = [system_prompt] * len(prompts)
        states = exchange_states(self.model, prompts, replies, systems)
        return [(self.head.score(s.reply("own").numpy()), s.reply_ends) for s in states]

    def start_streams(self) -> None:
        # a reply's cache is only reusable within its own generation; a warm cache would
        # also hide the guard's cost from a second, counted generation of the same prompts
        self.reader = None

    def score_stream(self, prompts, pieces, *, system_prompt=None, hidden=None):
        self.load()
        if getattr(self, "reader", None) is None:
            self.reader = StreamReader(self.model)
        out = []
        for prompt, reply_pieces in zip(prompts, pieces, strict=True):
            states, ends = self.reader.states(prompt, "".join(reply_pieces), system_prompt)
            scores = self.head.score(states) if len(states) else np.zeros(0, np.float32)
            where = piece_positions(reply_pieces, ends)
            out.append(np.array([scores[i] if i >= 0 else 0.0 for i in where], np.float32))
        return out

    def score_transcripts(self, prompts, replies, *, system_prompt=None) -> np.ndarray:
        scored = self.token_scores(prompts, replies, system_prompt)
        return np.array([s.max() if len(s) else 0.0 for s, _ in scored], dtype=np.float32)


@GUARDS.register
class ActivationProbe(TrainedGuard):
    kind = "activation-probe"
    summary = "a trained linear probe on the target's own hidden states (white-box targets)"
    classifier = "activation-probe"
    stages = frozenset({Stage.OUTPUT})
    default_stage = Stage.OUTPUT
    reads_activations = True
    order = 32

    def check_target(self, target) -> None:
        super().check_target(target)
        self.load()
        trained_on = self.head.meta.get("target")
        if trained_on != target.name:
            raise TailscopeError(
                f"guard {self.name!r} is a probe of {trained_on!r}'s activations, but the "
                f"target is {target.name!r}: train a probe on this target with "
                "`tailscope guard train --classifier activation-probe --target ...`"
            )

    def score_stream(self, prompts, pieces, *, system_prompt=None, hidden=None):
        self.load()
        if hidden is None:
            raise ValueError("the activation probe needs the target's hidden states")
        return [self.head.score(h.float().cpu().numpy()) for h in hidden]
