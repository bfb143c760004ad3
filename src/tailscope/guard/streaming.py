"""Streaming a reply through a backbone incrementally: each row keeps the backbone's KV
cache of what it has read, so a longer reply costs a forward pass over its new tokens only,
not over the whole exchange again. When the reply's tokenization changes at the old end (a
word grew: " wor" became " world"), the cache is cropped back to the tokens the two
tokenizations share and read on from there."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from tailscope.guard.features import reply_tokens

MAX_STREAMS = 256  # exchanges kept warm; the oldest is dropped first


@dataclass
class _Stream:
    head: int  # tokens of the prompt's chat text
    ids: list[int] = field(default_factory=list)  # everything the cache holds
    cache: object = None
    states: list[torch.Tensor] = field(default_factory=list)  # one [d] per reply token


class StreamReader:
    """Per-reply-token hidden states of growing replies, read incrementally."""

    def __init__(self, model):
        self.model = model
        self._streams: OrderedDict[tuple, _Stream] = OrderedDict()

    @torch.no_grad()
    def states(self, prompt: str, reply: str, system_prompt: str | None):
        """[T, d] states of the reply's tokens (each at its own position), and where each
        token ends in the reply."""
        stream = self._stream(prompt, system_prompt)
        ids, ends = reply_tokens(self.model, reply)
        wanted = stream.ids[: stream.head] + ids
        common = _common_prefix(stream.ids, wanted)
        if common < len(stream.ids):
            stream.cache.crop(common - len(stream.ids))  # negative: tokens to drop (5.x API)
            stream.ids = stream.ids[:common]
            stream.states = stream.states[: max(0, common - stream.head)]
        new = wanted[len(stream.ids) :]
        if new:
            self._read(stream, new)
        if not stream.states:
            return np.zeros((0, 0), np.float32), ends
        return torch.stack(stream.states).float().numpy(), ends

    def _stream(self, prompt: str, system_prompt: str | None) -> _Stream:
        key = (prompt, system_prompt)
        if key in self._streams:
            self._streams.move_to_end(key)
            return self._streams[key]
        head = self.model.encode(self.model.chat_text(prompt, system_prompt))
        stream = _Stream(head=len(head))
        self._read(stream, head)
        self._streams[key] = stream
        while len(self._streams) > MAX_STREAMS:
            self._streams.popitem(last=False)
        return stream

    def _read(self, stream: _Stream, ids: list[int]) -> None:
        body = self.model.model.get_decoder()
        out = body(
            input_ids=torch.tensor([ids], device=self.model.device),
            cache=stream.cache,
            use_cache=True,
        )
        stream.cache = out.cache
        before = len(stream.ids)
        stream.ids = stream.ids + ids
        hidden = out.last_hidden_state[0].float().cpu()
        for offset in range(len(ids)):
            if before + offset >= stream.head:
                stream.states.append(hidden[offset])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
