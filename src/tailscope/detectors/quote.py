"""Verified quotes (GopherCite, Menick et al. 2022): every quoted span of a reply must be a
verbatim, contiguous piece of one of the named sources.

A reply scores 1.0 when any of its quotes is in no source (an invented or altered quote),
0.0 when every quote is verbatim, and `no_quote_score` (default 0.0: nothing was claimed)
when it quotes nothing. Quote syntaxes and the scanner are `tailscope.quoting`'s, shared
with the constrained decoding of the transformers backend.

Normalization, applied to quotes and sources alike: Unicode NFC always; runs of whitespace
are one space (`collapse_whitespace`, default on); case-folding (`ignore_case`, default
off); a quote's own leading and trailing whitespace is dropped, and with
`strip_punctuation` its leading and trailing punctuation too (a period put inside the
quote marks). Quotes of fewer than `min_words` words are not checked (scare quotes).

The verbatim check is Python's `in`: a reply holds a few quotes and the sources a few
pages, and CPython's substring search is linear-time, so a multi-pattern automaton
(Aho–Corasick) would buy nothing here. rapidfuzz finds, for an unsupported quote, the
nearest span of the sources, which is what a reviewer wants to see beside it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tailscope.detectors.base import Detector
from tailscope.detectors.registry import DETECTORS
from tailscope.detectors.unigram_cache import cached_token_scores
from tailscope.errors import TailscopeError
from tailscope.files import read_text_file
from tailscope.quoting import DELIMITERS, Normalization, Syntax, quoted_spans

_VERSION = "v1"  # bump when the token table changes, to invalidate cached tables


class QuoteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, description="source texts, inline")
    source_files: list[str] = Field(
        default_factory=list, description="UTF-8 files holding one source each"
    )
    syntax: Syntax = Field(
        "all", description='gophercite (%[...]%), quotation-marks ("..." and “...”) or all'
    )
    collapse_whitespace: bool = Field(True, description="runs of whitespace count as one space")
    ignore_case: bool = Field(False, description="compare case-folded text")
    strip_punctuation: bool = Field(
        False, description="drop a quote's leading and trailing punctuation before checking"
    )
    min_words: int = Field(1, ge=1, description="shorter quotes are not checked")
    no_quote_score: float = Field(
        0.0, ge=0.0, le=1.0, description="the score of a reply that quotes nothing"
    )


@dataclass(frozen=True)
class Source:
    name: str
    text: str


@dataclass(frozen=True)
class QuoteVerdict:
    """One checked quote: verbatim in `source` (its name), or unsupported with the nearest
    span of the sources and its similarity (rapidfuzz's partial ratio, 0 to 100)."""

    quote: str
    source: str | None
    nearest: str = ""
    similarity: float = 0.0

    @property
    def supported(self) -> bool:
        return self.source is not None


def read_sources(sources: Sequence[str], source_files: Sequence[str]) -> list[Source]:
    """Inline sources and files as named sources; none with any text is one line."""
    named = [Source(f"source {i + 1}", text) for i, text in enumerate(sources)]
    for path in source_files:
        named.append(Source(path, read_text_file(Path(path), f"quote source file {path}")))
    named = [s for s in named if s.text.strip()]
    if not named:
        raise TailscopeError(
            "quote detector: no source text to check quotes against: give sources: [TEXT] "
            "or source_files: [PATH] with some text in them"
        )
    return named


def _edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def _strip_punctuation(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _edge(text[start]):
        start += 1
    while end > start and _edge(text[end - 1]):
        end -= 1
    return text[start:end]


@DETECTORS.register
class QuoteDetector(Detector):
    """1.0 when a quote of the reply is in no source (see the module docstring)."""

    kind = "quote"
    summary = "a quote in the reply is not verbatim from the sources (GopherCite's check)"
    Params = QuoteParams

    def __init__(
        self,
        sources: Sequence[str] = (),
        source_files: Sequence[str] = (),
        syntax: Syntax = "all",
        collapse_whitespace: bool = True,
        ignore_case: bool = False,
        strip_punctuation: bool = False,
        min_words: int = 1,
        no_quote_score: float = 0.0,
    ):
        self.sources = read_sources(sources, source_files)
        self.syntax, self.min_words, self.no_quote_score = syntax, min_words, no_quote_score
        self.strip_punctuation = strip_punctuation
        self.normalization = Normalization(collapse_whitespace, ignore_case)
        self._normalized = [self.normalization.apply(s.text) for s in self.sources]

    def _key(self, quote: str) -> str:
        key = self.normalization.apply(quote).strip()
        return _strip_punctuation(key) if self.strip_punctuation else key

    def check(self, text: str) -> list[QuoteVerdict]:
        """Every checked quote of `text` with its verdict, in order."""
        verdicts = []
        for quote in quoted_spans(text, self.syntax):
            key = self._key(quote)
            if not key or len(key.split()) < self.min_words:
                continue
            where = next((i for i, s in enumerate(self._normalized) if key in s), None)
            if where is not None:
                verdicts.append(QuoteVerdict(quote, self.sources[where].name))
            else:
                verdicts.append(self._nearest(quote, key))
        return verdicts

    def _nearest(self, quote: str, key: str) -> QuoteVerdict:
        from rapidfuzz import fuzz

        alignments = [fuzz.partial_ratio_alignment(key, source) for source in self._normalized]
        best = max(range(len(alignments)), key=lambda i: alignments[i].score)
        found = alignments[best]
        span = self._normalized[best][found.dest_start : found.dest_end]
        return QuoteVerdict(quote, None, span, round(found.score, 1))

    def unsupported(self, text: str) -> list[QuoteVerdict]:
        return [v for v in self.check(text) if not v.supported]

    def _score(self, text: str) -> float:
        verdicts = self.check(text)
        if not verdicts:
            return self.no_quote_score
        return 1.0 if any(not v.supported for v in verdicts) else 0.0

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._score(t) for t in texts], dtype=np.float32)

    def token_scores(self, tokenizer) -> np.ndarray:
        """A quote holding a word no source holds is unsupported, so a token's score is 1.0
        when its text is in no source and 0.0 when some source holds it; delimiters,
        whitespace and punctuation are NaN (neutral). A proxy for a joint search's unigram
        terms: whether a reply quotes at all is only known from the whole reply."""
        digest = hashlib.sha256("\x00".join(self._normalized).encode("utf-8")).hexdigest()[:16]
        key = f"quote-{_VERSION}-{self.normalization}-{digest}"
        return cached_token_scores(key, tokenizer, self._token_table)

    def _token_table(self, vocabulary: list[str]) -> np.ndarray:
        delimiter_chars = {c for pair in DELIMITERS[self.syntax] for d in pair for c in d}
        table = np.full(len(vocabulary), np.nan, dtype=np.float32)
        for i, token in enumerate(vocabulary):
            key = _strip_punctuation(self.normalization.apply(token).strip())
            if key and not delimiter_chars & set(key):
                table[i] = 0.0 if any(key in s for s in self._normalized) else 1.0
        return table

    def describe(self) -> str:
        return f"quote ({len(self.sources)} source{'s' if len(self.sources) != 1 else ''})"
