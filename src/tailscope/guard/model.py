"""A guarded model: a target wrapped by guards, itself a `LanguageModel` (and white-box when
the target is), so every search, red-team, elicitation and forecast method runs against it
unchanged.

- Input guards score each prompt first; a blocked prompt never reaches the target.
- Output guards watch the reply stream (`watch.py`); on a transformers target they run
  inside generation, which stops at the halt (`stream.py`); on any other target the whole
  reply is generated and cut where the guards halt it.
- Transcript guards judge prompt and finished reply together.

A blocked reply is the refusal text; a halted one is what streamed before the halted chunk,
then the refusal. `generate_guarded` returns each reply with the action (which guard, stage,
token, score); `logprob` is the target's, or -inf where the guards would block the reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailscope.guard.base import Guard, Stage
from tailscope.guard.watch import GuardAction, StreamWatcher, text_pieces
from tailscope.models.base import Capability, LanguageModel, TrainableModel, WhiteBoxModel


@dataclass(frozen=True)
class GuardedReply:
    text: str
    action: GuardAction | None  # None: no guard acted
    tokens: int  # reply tokens the target generated (0 when blocked before generation)


class GuardedModel(LanguageModel):
    def __init__(
        self,
        target: LanguageModel,
        guards: Sequence[Guard],
        *,
        refusal,
        every=1,
        on_halt="truncate",
    ):
        self.target, self.refusal, self.every = target, refusal, every
        self.on_halt = on_halt  # truncate: the user keeps what streamed before the halt
        self.guards = list(guards)
        self.name = f"guarded:{target.name}"
        self.capabilities = target.capabilities - {Capability.TRAINABLE}

    def stage(self, stage: Stage) -> list[Guard]:
        return [g for g in self.guards if g.stage == stage]

    def system(self, system_prompt: str | None) -> str | None:
        """The system prompt the target uses: the caller's, else the target's own default."""
        if system_prompt is not None:
            return system_prompt
        return getattr(self.target, "default_system_prompt", None)

    def generate(self, prompts, *, n=1, **settings) -> list[list[str]]:
        return [[r.text for r in row] for row in self.generate_guarded(prompts, n=n, **settings)]

    def generate_guarded(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 32,
        seed: int | None = None,
        system_prompt: str | None = None,
        reply_prefix: str | Sequence[str] = "",
    ) -> list[list[GuardedReply]]:
        """`n` guarded replies per prompt, each with the guard action that shaped it."""
        prompts = list(prompts)
        prefixes = [reply_prefix] * len(prompts) if isinstance(reply_prefix, str) else reply_prefix
        blocked = self.input_actions(prompts, system_prompt)
        results = [[GuardedReply(self.refusal, a, 0)] * n if a else [] for a in blocked]
        open_ = [i for i, action in enumerate(blocked) if action is None]
        if open_:
            settings = {"temperature": temperature, "max_new_tokens": max_new_tokens, "seed": seed}
            replies = self._generate(
                [prompts[i] for i in open_],
                [prefixes[i] for i in open_],
                n,
                system_prompt,
                settings,
            )
            for i, row in zip(open_, replies, strict=True):
                results[i] = self._judged(prompts[i], row, system_prompt)
        return results

    def input_actions(self, prompts, system_prompt=None) -> list[GuardAction | None]:
        actions: list[GuardAction | None] = [None] * len(prompts)
        system = self.system(system_prompt)
        for guard in self.stage(Stage.INPUT):
            scores = guard.score_prompts(prompts, system_prompt=system)
            for i, score in enumerate(scores):
                if actions[i] is None and score >= guard.threshold:
                    actions[i] = GuardAction(guard.name, "input", float(score))
        return actions

    def transcript_actions(self, prompts, replies, system_prompt=None):
        actions: list[GuardAction | None] = [None] * len(prompts)
        system = self.system(system_prompt)
        for guard in self.stage(Stage.TRANSCRIPT):
            scores = guard.score_transcripts(prompts, replies, system_prompt=system)
            for i, score in enumerate(scores):
                if actions[i] is None and score >= guard.threshold:
                    actions[i] = GuardAction(guard.name, "transcript", float(score))
        return actions

    def _judged(self, prompt: str, row: list[GuardedReply], system_prompt) -> list[GuardedReply]:
        """Transcript guards on the replies no output guard halted."""
        open_ = [j for j, reply in enumerate(row) if reply.action is None]
        texts = [row[j].text for j in open_]
        actions = self.transcript_actions([prompt] * len(open_), texts, system_prompt)
        for j, action in zip(open_, actions, strict=True):
            if action is not None:
                row[j] = GuardedReply(self.refusal, action, row[j].tokens)
        return row

    def _generate(self, prompts, prefixes, n, system_prompt, settings) -> list[list[GuardedReply]]:
        streams = bool(self.stage(Stage.OUTPUT)) and isinstance(self.target, TrainableModel)
        per_batch = self._per_batch(prompts, n, settings["max_new_tokens"]) if streams else None
        flat: list[GuardedReply] = []
        for start in range(0, len(prompts), per_batch or max(len(prompts), 1)):
            chunk = slice(start, start + (per_batch or len(prompts)))
            watcher = StreamWatcher(
                self.stage(Stage.OUTPUT),
                [p for p in prompts[chunk] for _ in range(n)],
                self.system(system_prompt),
                self.every,
            )
            run = self._streamed if streams else self._whole
            flat += run(watcher, prompts[chunk], prefixes[chunk], n, system_prompt, settings)
        return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _streamed(self, watcher, prompts, prefixes, n, system_prompt, settings):
        """A transformers target: the guards run inside generation, which halts there."""
        from tailscope.guard.stream import stream_generate

        texts = [
            self.target.chat_text(p, system_prompt) + prefix
            for p, prefix in zip(prompts, prefixes, strict=True)
        ]
        rows = stream_generate(self.target, texts, watcher, n=n, **settings)
        return [
            self.finished(watcher, i, self.target.decode(ids), len(ids))
            for i, ids in enumerate(rows)
        ]

    def _whole(self, watcher, prompts, prefixes, n, system_prompt, settings):
        """Any other target: the whole reply is generated, then cut where the guards halt."""
        replies = self.target.generate(
            prompts, n=n, system_prompt=system_prompt, reply_prefix=list(prefixes), **settings
        )
        flat = [r for row in replies for r in row]
        pieces = [self.pieces(r) for r in flat]
        watcher.update(pieces)
        return [
            self.finished(watcher, i, text, len(p))
            for i, (text, p) in enumerate(zip(flat, pieces, strict=True))
        ]

    def _per_batch(self, prompts, n: int, max_new_tokens: int) -> int:
        """Prompts per streamed batch, within the target's padded-token budget."""
        longest = max(len(self.target.encode(self.target.chat_text(p))) for p in prompts)
        budget = getattr(self.target, "batch_tokens", 4096)
        return max(1, budget // ((longest + max_new_tokens) * n))

    def pieces(self, reply: str) -> list[str]:
        """The tokens an output guard sees of a finished reply."""
        if isinstance(self.target, TrainableModel):
            from tailscope.guard.stream import token_pieces

            return token_pieces(self.target, self.target.encode(reply))
        return text_pieces(reply)

    def finished(self, watcher: StreamWatcher, i: int, text: str, tokens: int) -> GuardedReply:
        halt = watcher.rows[i].halt
        if halt is None:
            return GuardedReply(text, None, tokens)
        shown = watcher.delivered(i) if self.on_halt == "truncate" else ""
        text = f"{shown}\n\n{self.refusal}" if shown.strip() else self.refusal
        return GuardedReply(text, halt, tokens)

    def judge(self, prompts, replies, system_prompt=None) -> list[GuardAction | None]:
        """What the guards do to given replies (the first to act: input, output, transcript);
        replayed attacks and exact log-probabilities are judged this way."""
        prompts, replies = list(prompts), list(replies)
        inputs = self.input_actions(prompts, system_prompt)
        output_guards = self.stage(Stage.OUTPUT)
        watcher = StreamWatcher(output_guards, prompts, self.system(system_prompt), self.every)
        pieces = [self.pieces(r) for r in replies]
        reads = any(g.reads_activations for g in output_guards)
        watcher.update(pieces, self.states(prompts, replies, system_prompt) if reads else None)
        transcripts = self.transcript_actions(prompts, replies, system_prompt)
        return [
            first or row.halt or last
            for first, row, last in zip(inputs, watcher.rows, transcripts, strict=True)
        ]

    def states(self, prompts, replies, system_prompt):
        """The target's emitting hidden states over given replies, for probe guards."""
        from tailscope.guard.stream import emitting_states

        return [
            emitting_states(
                self.target,
                self.target.encode(self.target.chat_text(p, system_prompt)),
                self.target.encode(r),
            )
            for p, r in zip(prompts, replies, strict=True)
        ]

    def logprob(self, prompts, continuations, *, system_prompt=None) -> np.ndarray:
        scores = np.asarray(
            self.target.logprob(prompts, continuations, system_prompt=system_prompt), np.float64
        )
        acted = self.judge(prompts, continuations, system_prompt)
        scores[[a is not None for a in acted]] = -np.inf  # the guards never let it out
        return scores

    def identity(self) -> dict:
        return {
            "name": self.name,
            "backend": "guarded",
            "target": self.target.identity(),
            "guards": [g.describe() for g in self.guards],
            "refusal": self.refusal,
            "stream_every": self.every,
            "on_halt": self.on_halt,
        }

    def rendered_system_prompt(self, system_prompt: str | None = None) -> str:
        return self.target.rendered_system_prompt(system_prompt)


class GuardedWhiteBoxModel(GuardedModel, WhiteBoxModel):
    """A guarded white-box target: white-box search optimizes against the target's own
    weights, and every reply it verifies comes through the guards."""

    def __init__(self, target: WhiteBoxModel, guards, **settings):
        super().__init__(target, guards, **settings)
        self.tokenizer, self.device = target.tokenizer, target.device

    def encode(self, text):
        return self.target.encode(text)

    def decode(self, ids):
        return self.target.decode(ids)

    @property
    def context_length(self):
        return self.target.context_length

    def chat_text(self, prompt, system_prompt=None):
        return self.target.chat_text(prompt, system_prompt)

    def chat_layout(self, system_prompt=None, user_prefix="", user_suffix=""):
        return self.target.chat_layout(system_prompt, user_prefix, user_suffix)

    def embedding_matrix(self):
        return self.target.embedding_matrix()

    def prefix_cache(self, ids):
        return self.target.prefix_cache(ids)

    def logits(self, embeds, positions, prefix=None):
        return self.target.logits(embeds, positions, prefix)

    @property
    def vocab_size(self):
        return self.target.vocab_size


def guarded(target: LanguageModel, guards: Sequence[Guard], **settings) -> GuardedModel:
    """`target` wrapped by `guards` (each checked against it and loaded)."""
    for guard in guards:
        guard.check_target(target)
        guard.load()
    if isinstance(target, WhiteBoxModel):
        return GuardedWhiteBoxModel(target, guards, **settings)
    return GuardedModel(target, guards, **settings)
