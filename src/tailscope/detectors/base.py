"""The detector interface: texts in, scores in [0, 1] out.

A detector may also score single vocabulary tokens (`token_scores`); ARCA uses those
per-vocabulary tables as its exact unigram terms. A new kind is one module in this package
with a `Detector` subclass decorated `@DETECTORS.register` (docs/extending.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel


class Detector(ABC):
    """Scores texts for a property (toxic, English, contains X, a refusal, ...)."""

    #: registry name of the detector kind, e.g. "toxicity" (a behavior's `kind:`)
    kind: str = ""
    #: one line for `tailscope behaviors` help and error messages
    summary: str = ""
    #: the parameters a behavior spec may give, validated before the detector is built
    Params: type[BaseModel]

    @abstractmethod
    def score(self, texts: Sequence[str]) -> np.ndarray:
        """One float in [0, 1] per text: the degree to which the text has the property."""

    def token_scores(self, tokenizer) -> np.ndarray | None:
        """Per-vocabulary scores (shape [len(tokenizer)], float32 in [0, 1]) or None.

        None means the property is not meaningful for a single token. Implementations
        compute the table once per tokenizer and cache it on disk.
        """
        return None

    def describe(self) -> str:
        """Short human-readable description, e.g. 'language=en'."""
        return self.kind
