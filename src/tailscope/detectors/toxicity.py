"""Toxicity and profanity, scored by alt-profanity-check (a small linear model, CPU-only).

It is fast enough to score the whole vocabulary, which gives ARCA its unigram terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from tailscope.detectors.base import Detector
from tailscope.detectors.registry import DETECTORS
from tailscope.detectors.unigram_cache import cached_token_scores

_VERSION = "v1"  # bump when the scoring changes, to invalidate cached tables


class ToxicityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@DETECTORS.register
class ToxicityDetector(Detector):
    """Probability that a text is toxic or profane. Blank text scores 0."""

    kind = "toxicity"
    summary = "toxic or profane language (alt-profanity-check)"
    Params = ToxicityParams

    def score(self, texts: Sequence[str]) -> np.ndarray:
        from profanity_check import predict_prob  # slow import (scikit-learn)

        stripped = [t.strip() for t in texts]
        scores = np.zeros(len(stripped), dtype=np.float32)
        nonblank = [i for i, t in enumerate(stripped) if t]
        if nonblank:
            probs = predict_prob([stripped[i] for i in nonblank])
            scores[nonblank] = np.clip(probs, 0.0, 1.0)
        return scores

    def token_scores(self, tokenizer) -> np.ndarray:
        """Toxicity of every decoded token, whitespace stripped; blank tokens score 0."""
        return cached_token_scores(f"toxicity-{_VERSION}", tokenizer, self.score)
