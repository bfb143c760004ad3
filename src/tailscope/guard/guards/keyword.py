"""keyword: a filter on words and regular expressions, the baseline every trained guard
must beat. A text scores 1.0 when any keyword (case-insensitive, whole words) or pattern
matches, else 0.0."""

from __future__ import annotations

import re

import numpy as np
from pydantic import Field, field_validator, model_validator

from tailscope.guard.base import GUARDS, GuardParams, Stage, TextGuard


class KeywordParams(GuardParams):
    keywords: list[str] = Field(default_factory=list, description="words, case-insensitive")
    patterns: list[str] = Field(default_factory=list, description="Python regular expressions")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                problem = f"pattern {pattern!r} is not a regular expression: {exc}"
                raise ValueError(problem) from None
        return patterns

    @model_validator(mode="after")
    def _something(self):
        if not any(k.strip() for k in self.keywords) and not self.patterns:
            raise ValueError("give at least one keyword or pattern")
        return self


@GUARDS.register
class KeywordGuard(TextGuard):
    kind = "keyword"
    summary = "1 when a keyword (whole word, any case) or regular expression matches"
    default_stage = Stage.INPUT
    Params = KeywordParams
    order = 10

    def __init__(self, params: KeywordParams):
        super().__init__(params)
        words = [re.escape(k.strip()) for k in params.keywords if k.strip()]
        alternatives = ([rf"\b(?:{'|'.join(words)})\b"] if words else []) + params.patterns
        self._pattern = re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)

    def score_texts(self, texts) -> np.ndarray:
        return np.array([float(bool(self._pattern.search(t))) for t in texts], dtype=np.float32)
