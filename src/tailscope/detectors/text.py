"""Exact string conditions: equals, contains, starts with, or matches a regular expression.

Scores are 0 or 1. There is no per-token table: whether a single token "contains" a
phrase says nothing useful about a whole text, so a joint search needs another detector.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tailscope.detectors.base import Detector
from tailscope.detectors.registry import DETECTORS
from tailscope.errors import TailscopeError

Mode = Literal["exact", "contains", "starts_with", "regex"]


class TextParams(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)  # pattern: 42 is fine
    mode: Mode = Field(description="exact | contains | starts_with | regex")
    pattern: str = Field(min_length=1, description="the string or regular expression")
    case_sensitive: bool = Field(False, description="compare case-sensitively (default false)")
    strip: bool = Field(True, description="strip surrounding whitespace first (default true)")


@DETECTORS.register
class TextDetector(Detector):
    """1.0 when the text satisfies the string condition, else 0.0."""

    kind = "text"
    summary = "string condition on the text: exact, contains, starts_with or regex"
    Params = TextParams

    def __init__(self, mode: Mode, pattern: str, case_sensitive: bool = False, strip: bool = True):
        if not pattern:
            raise TailscopeError("text detector: the pattern is empty; give a non-empty pattern")
        self.mode, self.pattern = mode, pattern
        self.case_sensitive, self.strip = case_sensitive, strip
        if mode == "regex":
            flags = 0 if case_sensitive else re.IGNORECASE
            try:
                self._regex = re.compile(pattern, flags)
            except re.error as e:
                raise TailscopeError(
                    f"text detector: invalid regular expression {pattern!r} ({e}); "
                    "fix the pattern or use mode contains for a plain string"
                ) from None
        else:
            self._needle = self._normalise(pattern)
            if not self._needle:
                raise TailscopeError(
                    "text detector: the pattern is only whitespace; give visible text "
                    "or set strip: false"
                )

    def _normalise(self, text: str) -> str:
        if self.strip:
            text = text.strip()
        return text if self.case_sensitive else text.casefold()

    def _matches(self, text: str) -> bool:
        if self.mode == "regex":
            return self._regex.search(text.strip() if self.strip else text) is not None
        text = self._normalise(text)
        if self.mode == "exact":
            return text == self._needle
        if self.mode == "contains":
            return self._needle in text
        return text.startswith(self._needle)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([float(self._matches(t)) for t in texts], dtype=np.float32)

    def describe(self) -> str:
        return f"text {self.mode} {self.pattern!r}"
