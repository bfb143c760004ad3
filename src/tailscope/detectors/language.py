"""Language identification with lingua.

The score is lingua's confidence in the language *relative to the most likely language*
(confidence(L) / max over languages): 1.0 when L is the detected language, lower as another
language dominates. lingua's raw confidences, spread over its 75 languages, stay far below
0.5 for a short English sentence ("the cat is black": 0.13), so thresholds on them would
not mean "is in language L"; the ratio does, and it keeps lingua's ranking. All languages
are candidates, so an optimizer cannot satisfy "is French" with text lingua finds closer to
some language we left out.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tailscope.detectors.base import Detector
from tailscope.detectors.registry import DETECTORS
from tailscope.detectors.unigram_cache import cached_token_scores
from tailscope.errors import TailscopeError

_VERSION = "v1"  # bump when the scoring changes, to invalidate cached tables
_LOCK = threading.Lock()
_DETECTOR = None  # one lingua detector per process: its models take seconds to load


class LanguageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str = Field(description="ISO 639-1 code of the language, e.g. en, fr, de")


def supported_codes() -> list[str]:
    """ISO 639-1 codes of every language lingua can identify."""
    from lingua import Language

    return sorted(lang.iso_code_639_1.name.lower() for lang in Language.all())


def _lingua_language(code: str):
    from lingua import IsoCode639_1, Language

    iso = getattr(IsoCode639_1, code.strip().upper(), None)
    if not isinstance(iso, IsoCode639_1):
        raise TailscopeError(
            f"unknown language code {code!r}: use an ISO 639-1 code lingua supports: "
            + ", ".join(supported_codes())
        )
    return Language.from_iso_code_639_1(iso)


def _lingua_detector():
    global _DETECTOR
    with _LOCK:
        if _DETECTOR is None:
            from lingua import LanguageDetectorBuilder

            _DETECTOR = LanguageDetectorBuilder.from_all_languages().build()
    return _DETECTOR


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


@DETECTORS.register
class LanguageDetector(Detector):
    """How strongly a text reads as the given language (see the module docstring)."""

    kind = "language"
    summary = "text is in the given language (lingua; confidence relative to the top language)"
    Params = LanguageParams

    def __init__(self, language: str):
        self._language = _lingua_language(language)
        self.code = self._language.iso_code_639_1.name.lower()

    def describe(self) -> str:
        return f"language={self.code}"

    def _relative(self, texts: list[str]) -> np.ndarray:
        """Relative confidence per text; NaN for a text without letters."""
        scores = np.full(len(texts), np.nan, dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if _has_letters(t)]
        if not todo:
            return scores
        results = _lingua_detector().compute_language_confidence_values_in_parallel(
            [texts[i] for i in todo]
        )
        for i, values in zip(todo, results, strict=True):
            top = values[0].value if values else 0.0
            mine = next((v.value for v in values if v.language == self._language), 0.0)
            scores[i] = mine / top if top > 0 else 0.0
        return np.clip(scores, 0.0, 1.0)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Relative confidence per text; a text without letters is in no language: 0."""
        return np.nan_to_num(self._relative([t.strip() for t in texts]), nan=0.0)

    def token_scores(self, tokenizer) -> np.ndarray:
        """Relative confidence per decoded token; NaN (neutral) for tokens without letters.

        Spaces, digits and punctuation belong to every language, so a "must be French"
        unigram term should neither reward nor penalise them.
        """
        return cached_token_scores(
            f"language={self.code}-{_VERSION}",
            tokenizer,
            lambda vocab: self._relative([t.strip() for t in vocab]),
        )
