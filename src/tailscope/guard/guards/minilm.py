"""minilm: a baseline every backbone guard must beat, a logistic head (scikit-learn) on the
all-MiniLM-L6-v2 sentence embedding of the prompt with its system prompt. The embedder is
the one the red team's diversity metrics use (`detectors/embeddings.py`)."""

from __future__ import annotations

import numpy as np

from tailscope.detectors.embeddings import embedder
from tailscope.guard.base import GUARDS, Stage
from tailscope.guard.trained import TrainedGuard


def prompt_text(prompt: str, system_prompt: str | None) -> str:
    """What the MiniLM guard embeds: the system prompt, then the user's message."""
    return f"{system_prompt}\n{prompt}" if system_prompt else prompt


@GUARDS.register
class MiniLMGuard(TrainedGuard):
    kind = "minilm"
    summary = "a trained logistic head on MiniLM embeddings of the prompt (a baseline)"
    classifier = "minilm"
    stages = frozenset({Stage.INPUT})
    default_stage = Stage.INPUT
    order = 35

    def score_prompts(self, prompts, *, system_prompt=None) -> np.ndarray:
        self.load()
        texts = [prompt_text(p, system_prompt) for p in prompts]
        return self.head.score(embedder().embed(texts))
