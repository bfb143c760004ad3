"""The model interfaces every method is written against.

`LanguageModel` is all a black-box method needs: chat-formatted generation and exact
teacher-forced log-probabilities. `WhiteBoxModel` adds what white-box search needs:
the tokenizer, the embedding matrix and logits from input embeddings, with the
chat template split into the token spans around the user's text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


class LanguageModel(ABC):
    """A chat model: text prompts in, text replies or log-probabilities out."""

    name: str

    @abstractmethod
    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 32,
        seed: int | None = None,
        system_prompt: str | None = None,
        reply_prefix: str | Sequence[str] = "",
    ) -> list[list[str]]:
        """`n` replies per prompt (temperature 0 = greedy), each prompt as one user turn.

        `reply_prefix` (one for all prompts, or one per prompt) pre-fills the start of the
        reply: the model continues it, and the returned text is what follows it."""

    @abstractmethod
    def logprob(
        self,
        prompts: Sequence[str],
        continuations: Sequence[str],
        *,
        system_prompt: str | None = None,
    ) -> np.ndarray:
        """Exact log p(continuation | prompt) for each pair, the continuation being the reply."""

    @abstractmethod
    def identity(self) -> dict:
        """What makes results reproducible: name, source, parameter count, dtype."""

    @abstractmethod
    def rendered_system_prompt(self, system_prompt: str | None = None) -> str:
        """The chat-template text before the user's message, with the system prompt in it."""


@dataclass(frozen=True)
class ChatLayout:
    """Token ids of a single-turn chat around the user's text.

    The full input is `before + user_ids + after`, and the reply follows `after`.
    """

    before: tuple[int, ...]
    after: tuple[int, ...]


class WhiteBoxModel(LanguageModel):
    """A `LanguageModel` whose weights and tokenizer search methods may use."""

    tokenizer: object
    device: torch.device

    @abstractmethod
    def chat_layout(
        self, system_prompt: str | None = None, user_prefix: str = "", user_suffix: str = ""
    ) -> ChatLayout:
        """Split the chat template around the optimized user text, which may sit between
        fixed user text before (`user_prefix`) and after it (`user_suffix`)."""

    @abstractmethod
    def embedding_matrix(self) -> torch.Tensor:
        """Input embedding matrix, shape [vocab, hidden]."""

    @abstractmethod
    def prefix_cache(self, ids: Sequence[int]) -> object:
        """Attention key/value cache for a fixed prefix, reusable by `logits`."""

    @abstractmethod
    def logits(
        self,
        embeds: torch.Tensor,
        positions: torch.Tensor,
        prefix: object | None = None,
    ) -> torch.Tensor:
        """Next-token logits at `positions` (indices into `embeds`' sequence) for a batch.

        `embeds` is [batch, length, hidden] and follows `prefix` if given. Only the
        requested positions go through the output projection: it is the costliest layer
        of a small model with a large vocabulary.
        """

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of rows of the embedding matrix."""
