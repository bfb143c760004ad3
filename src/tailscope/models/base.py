"""The model interfaces every method is written against, and the capabilities a backend
declares.

`LanguageModel` is all a black-box method needs: chat-formatted generation and exact
teacher-forced log-probabilities. `WhiteBoxModel` adds what white-box search needs:
the tokenizer, encode/decode, the context length, the embedding matrix and logits from
input embeddings, with the chat template split into the token spans around the user's
text. `TrainableModel` adds what fine-tuning the attacker needs: the torch module, and a
new model of the same kind around a trained copy of it.

Imports stay light (no torch at import time): every CLI start reads the capabilities.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch


class Capability(StrEnum):
    """What a backend can do; a method asks for what it needs when its config is checked."""

    GENERATE = "generate"  # chat replies, greedy or sampled
    LOGPROB = "logprob"  # exact teacher-forced log-probabilities of a given reply
    WHITE_BOX = "white-box"  # tokenizer, embeddings, gradients: white-box search
    TRAINABLE = "trainable"  # LoRA fine-tuning: supervised and RL red teaming


ALL_CAPABILITIES = frozenset(Capability)
# What each capability gives, for the message when a target lacks one.
CAPABILITY_MEANS = {
    Capability.GENERATE: "generating replies",
    Capability.LOGPROB: "exact log-probabilities of a given reply",
    Capability.WHITE_BOX: "white-box access (tokenizer, embeddings, gradients)",
    Capability.TRAINABLE: "fine-tuning (a trainable transformers model)",
}


class LanguageModel(ABC):
    """A chat model: text prompts in, text replies or log-probabilities out."""

    name: str
    capabilities: frozenset[Capability] = frozenset({Capability.GENERATE, Capability.LOGPROB})

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

    capabilities = frozenset({Capability.GENERATE, Capability.LOGPROB, Capability.WHITE_BOX})
    tokenizer: object  # a transformers tokenizer: detectors score its vocabulary
    device: torch.device

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without special tokens."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids, special tokens dropped."""

    @property
    @abstractmethod
    def context_length(self) -> int | None:
        """The most tokens one sequence may hold (prompt, template and reply), if known."""

    @abstractmethod
    def chat_text(self, prompt: str, system_prompt: str | None = None) -> str:
        """The exact text the model sees for one user turn, up to the start of its reply."""

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


class TrainableModel(WhiteBoxModel):
    """A white-box model whose weights can be fine-tuned (LoRA adapters via peft)."""

    capabilities = ALL_CAPABILITIES

    @property
    @abstractmethod
    def module(self) -> torch.nn.Module:
        """The causal LM itself; trainers fine-tune a deep copy of it."""

    @abstractmethod
    def derive(self, module: torch.nn.Module, suffix: str) -> TrainableModel:
        """A model like this one (tokenizer, template, settings) around `module`, a
        trained copy; its name gets `+suffix`."""
