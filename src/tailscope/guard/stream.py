"""Streaming generation on a transformers target: the output guards run inside `generate`
as a stopping criterion, every `every` tokens, and a halted row stops generating there.

A guard that reads activations (`Guard.reads_activations`) receives, for each reply token
t, the target's last hidden state at the position that emitted token t (the last prompt
position for t = 0): states `generate` computes anyway, captured by a forward hook, so a
probe costs one matrix-vector product per token. `emitting_states` computes the same
states for a given reply, to train a probe on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from tailscope.guard.watch import StreamWatcher
from tailscope.models.base import TrainableModel


class _EmittingStates:
    """Forward hook on the decoder: the last position's hidden state of every pass."""

    def __init__(self, module: torch.nn.Module):
        self.steps: list[torch.Tensor] = []
        self._handle = module.get_decoder().register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output) -> None:
        self.steps.append(output.last_hidden_state[:, -1, :].detach())

    def rows(self, batch: int) -> list[torch.Tensor]:
        stacked = torch.stack(self.steps, dim=1) if self.steps else torch.zeros(batch, 0, 0)
        return list(stacked)

    def close(self) -> None:
        self._handle.remove()


class _GuardStop(StoppingCriteria):
    def __init__(self, model: TrainableModel, watcher: StreamWatcher, start: int, states):
        self.model, self.watcher, self.start, self.states = model, watcher, start, states
        self.eos = _eos_ids(model)

    def __call__(self, input_ids, scores, **kwargs):
        generated = input_ids.shape[1] - self.start
        if generated % self.watcher.every == 0:
            self.check(input_ids)
        return torch.tensor(self.watcher.halted(), device=input_ids.device)

    def check(self, input_ids) -> None:
        rows = [_until_eos(r.tolist(), self.eos) for r in input_ids[:, self.start :]]
        hidden = self.states.rows(len(rows)) if self.states is not None else None
        if hidden is not None:
            hidden = [h[: len(r)] for h, r in zip(hidden, rows, strict=True)]
        known = [row.pieces for row in self.watcher.rows]
        pieces = [
            token_pieces(self.model, r, k if len(k) <= len(r) else ())
            for r, k in zip(rows, known, strict=True)
        ]
        self.watcher.update(pieces, hidden)


def stream_generate(
    model: TrainableModel,
    texts: Sequence[str],
    watcher: StreamWatcher,
    *,
    n: int,
    max_new_tokens: int,
    temperature: float = 0.0,
    seed: int | None = None,
) -> list[list[int]]:
    """Generate from the chat `texts` (one row per text × n, prompt-major, as `watcher`'s
    rows), checking the output guards as tokens arrive; the rows' reply token ids."""
    tokenizer, module = model.tokenizer, model.module
    if seed is not None:
        torch.manual_seed(seed)
    settings = {"max_new_tokens": max_new_tokens, "do_sample": False}
    if temperature > 0:
        settings = {
            **settings,
            "do_sample": True,
            "temperature": temperature,
            "top_k": 0,
            "top_p": 1.0,
        }
    tokenizer.padding_side = "left"
    enc = tokenizer(list(texts), add_special_tokens=False, padding=True, return_tensors="pt")
    enc = enc.to(model.device)
    reads = any(g.reads_activations for g in watcher.guards)
    states = _EmittingStates(module) if reads else None
    stop = _GuardStop(model, watcher, enc["input_ids"].shape[1], states)
    try:
        with torch.no_grad():
            out = module.generate(
                **enc,
                num_return_sequences=n,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=StoppingCriteriaList([stop]),
                **settings,
            )
        stop.check(out)  # the tokens after the last chunk boundary
    finally:
        if states is not None:
            states.close()
    return [_until_eos(r.tolist(), stop.eos) for r in out[:, stop.start :]]


def token_pieces(model: TrainableModel, ids: Sequence[int], known: Sequence[str] = ()):
    """The text each reply token adds (the pieces join to the decoded reply, but for a
    character still unfinished at the end); `known`: pieces of a prefix already split."""
    pieces, shown = list(known), "".join(known)
    for end in range(len(pieces) + 1, len(ids) + 1):
        # An unfinished multi-byte character decodes as U+FFFD: it waits for its bytes.
        text = model.decode(ids[:end]).rstrip("\ufffd")
        piece = text[len(shown) :] if text.startswith(shown) else ""
        pieces.append(piece)
        shown += piece
    return pieces


@torch.no_grad()
def emitting_states(model: TrainableModel, context: Sequence[int], reply: Sequence[int]):
    """[len(reply), hidden]: the last hidden state at the position that emitted each reply
    token, exactly what a probe sees during streaming generation."""
    if not reply:
        return torch.zeros(0, model.module.config.hidden_size)
    ids = torch.tensor([list(context) + list(reply[:-1])], device=model.device)
    hidden = model.module.get_decoder()(input_ids=ids).last_hidden_state[0]
    return hidden[len(context) - 1 :]


def _eos_ids(model: TrainableModel) -> set[int]:
    configured = model.module.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured])
    ids.add(model.tokenizer.eos_token_id)
    return {i for i in ids if i is not None}


def _until_eos(ids: list[int], eos: set[int]) -> list[int]:
    for index, token in enumerate(ids):
        if token in eos:
            return ids[:index]
    return ids
