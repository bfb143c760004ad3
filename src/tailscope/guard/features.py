"""Hidden-state features of exchanges, read from a white-box model: what the trained guards'
linear heads see.

An exchange is the chat text of the prompt (with its system prompt) followed by the reply's
tokens. `layer` picks the hidden states: -1 is the model's last hidden state (after its final
norm, the state its next-token head reads); k >= 0 is the output of block k (0 = the
embeddings). Per reply token there are two readings:

- `own`: the state at the token's own position (it has read the token), for a separate
  classifier that re-reads a reply's text (value-head variant b);
- `emitting`: the state at the position before it, the one the target computed to emit the
  token, which a white-box target has for free while it generates (the activation probe,
  variant a, as in Constitutional Classifiers++)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

BATCH = 8


@dataclass
class ExchangeStates:
    prompt: torch.Tensor  # [2d]: mean over the prompt's chat-text tokens, then the last one
    span: torch.Tensor  # [T + 1, d]: the last prompt position, then each reply token
    reply_ends: list[int]  # character offset in the reply where each token ends

    def reply(self, reading: str = "own") -> torch.Tensor:
        """[T, d]: per reply token, its own state or the state that emitted it."""
        return self.span[:-1] if reading == "emitting" else self.span[1:]


def reply_tokens(model, reply: str) -> tuple[list[int], list[int]]:
    """The reply's token ids and the character offset where each ends."""
    enc = model.tokenizer(reply, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [end for _, end in enc["offset_mapping"]]


@torch.no_grad()
def exchange_states(
    model,
    prompts: Sequence[str],
    replies: Sequence[str],
    system_prompts: Sequence[str | None],
    *,
    layer: int = -1,
) -> list[ExchangeStates]:
    """Hidden states of each (prompt, reply) exchange, batched with right padding (a causal
    model's states at a position do not depend on what follows it)."""
    rows = []
    for prompt, reply, system in zip(prompts, replies, system_prompts, strict=True):
        head = model.encode(model.chat_text(prompt, system))
        ids, ends = reply_tokens(model, reply)
        rows.append((head, ids, ends))
    # batches of similar lengths waste little on padding
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]) + len(rows[i][1]))
    out: list[ExchangeStates | None] = [None] * len(rows)
    for start in range(0, len(order), BATCH):
        chunk = order[start : start + BATCH]
        batch = _batch_states(model, [rows[i] for i in chunk], layer)
        for i, states in zip(chunk, batch, strict=True):
            out[i] = states
    return out


def _batch_states(model, rows, layer: int) -> list[ExchangeStates]:
    sequences = [head + ids for head, ids, _ in rows]
    width = max(len(s) for s in sequences)
    pad = model.tokenizer.pad_token_id
    input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
    body = model.model.get_decoder()
    result = body(
        input_ids=input_ids.to(model.device),
        attention_mask=mask.to(model.device),
        output_hidden_states=layer >= 0,
    )
    states = result.last_hidden_state if layer < 0 else result.hidden_states[layer]
    states = states.float().cpu()
    out = []
    for row, (head, ids, ends) in enumerate(rows):
        last = len(head) - 1
        out.append(
            ExchangeStates(
                prompt=torch.cat([states[row, : len(head)].mean(0), states[row, last]]),
                span=states[row, last : last + len(ids) + 1],
                reply_ends=ends,
            )
        )
    return out


def piece_positions(piece_texts: Sequence[str], token_ends: Sequence[int]) -> list[int]:
    """For each piece of a streamed reply (the target's tokens, which join to the reply),
    the index of the last backbone token that ends within it; -1 before any ends."""
    positions, token, end = [], -1, 0
    for piece in piece_texts:
        end += len(piece)
        while token + 1 < len(token_ends) and token_ends[token + 1] <= end:
            token += 1
        positions.append(token)
    return positions
