"""input-classifier: p(restricted) of a prompt, read with its system prompt by a backbone
model (the default model unless trained otherwise): a logistic head on the backbone's last
hidden states, their mean over the prompt's chat text beside the state at its last token
(where the model decides how to answer). It acts before generation, so a
blocked prompt costs one forward pass of the backbone and no target call."""

from __future__ import annotations

import numpy as np
import torch

from tailscope.guard.base import GUARDS, Stage
from tailscope.guard.features import exchange_states
from tailscope.guard.trained import TrainedGuard


@GUARDS.register
class InputClassifier(TrainedGuard):
    kind = "input-classifier"
    summary = "a trained logistic head on a backbone's states of the prompt (guard train)"
    classifier = "input-classifier"
    stages = frozenset({Stage.INPUT})
    default_stage = Stage.INPUT
    order = 30

    def score_prompts(self, prompts, *, system_prompt=None) -> np.ndarray:
        self.load()
        states = exchange_states(
            self.model, prompts, [""] * len(prompts), [system_prompt] * len(prompts)
        )
        if not states:
            return np.zeros(0, dtype=np.float32)
        return self.head.score(torch.stack([s.prompt for s in states]).numpy())
