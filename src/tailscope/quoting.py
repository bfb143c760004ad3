"""Quoted spans in text: the quote syntaxes, a scanner that finds the spans as text streams
in, and the normalization that decides when a span is verbatim from a source.

Shared by the `quote` detector (which checks finished replies) and the quote constraint of
the transformers backend (which keeps quotes verbatim while they are generated), so that
both read quotes the same way.

Syntaxes: `gophercite` is GopherCite's `%[quote]%`; `quotation-marks` is straight double
quotes `"..."` and curly ones `“...”`; `all` is both. Single quotes are not delimiters: an
apostrophe ("don't") would open a quote. A quote that is still open when the text ends
runs to its end (a closing delimiter cut off halfway, "]" of "]%", closes it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

Syntax = Literal["gophercite", "quotation-marks", "all"]

_GOPHERCITE = (("%[", "]%"),)
_QUOTATION_MARKS = (('"', '"'), ("\u201c", "\u201d"))
DELIMITERS: dict[str, tuple[tuple[str, str], ...]] = {
    "gophercite": _GOPHERCITE,
    "quotation-marks": _QUOTATION_MARKS,
    "all": _GOPHERCITE + _QUOTATION_MARKS,
}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Normalization:
    """How a quote and its sources are compared. Both always go through Unicode NFC, so a
    composed and a decomposed "é" are one character."""

    collapse_whitespace: bool = True  # runs of spaces, tabs and newlines are one space
    ignore_case: bool = False  # compare case-folded text

    def apply(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        if self.collapse_whitespace:
            text = _SPACES.sub(" ", text)
        return text.casefold() if self.ignore_case else text


@dataclass
class QuoteScanner:
    """Reads text piece by piece (whole replies or single tokens) and collects the quoted
    spans. `inside` says whether a quote is open; `content` is its text so far."""

    delimiters: tuple[tuple[str, str], ...]
    quotes: list[str] = field(default_factory=list)
    closer: str | None = None  # the open quote's closing delimiter; None outside a quote
    content: str = ""
    pending: str = ""  # a delimiter's first characters, undecided until the next character

    @classmethod
    def of(cls, syntax: Syntax) -> QuoteScanner:
        return cls(DELIMITERS[syntax])

    @property
    def inside(self) -> bool:
        return self.closer is not None

    def copy(self) -> QuoteScanner:
        return QuoteScanner(
            self.delimiters, list(self.quotes), self.closer, self.content, self.pending
        )

    def feed(self, text: str) -> QuoteScanner:
        for char in text:
            if self.inside:
                self._inside(char)
            else:
                self._outside(char)
        return self

    def open_text(self) -> str:
        """The open quote's text including an undecided delimiter prefix ("]" of "]%")."""
        return self.content + self.pending if self.inside else ""

    def finish(self) -> list[str]:
        """Every quote, the one still open (cut off at the end of the text) last. A text
        that ends halfway through a closing delimiter ("]" of "]%") ends the quote there."""
        return self.quotes + ([self.content] if self.inside else [])

    def _outside(self, char: str) -> None:
        candidate = self.pending + char
        for opener, closer in self.delimiters:
            if candidate == opener:
                self.closer, self.content, self.pending = closer, "", ""
                return
        if any(opener.startswith(candidate) for opener, _ in self.delimiters):
            self.pending = candidate
        elif self.pending:
            self.pending = ""
            self._outside(char)  # the character may itself start a delimiter

    def _inside(self, char: str) -> None:
        candidate = self.pending + char
        if candidate == self.closer:
            self.quotes.append(self.content)
            self.closer, self.content, self.pending = None, "", ""
        elif self.closer.startswith(candidate):
            self.pending = candidate
        elif self.pending:
            self.content += self.pending
            self.pending = ""
            self._inside(char)
        else:
            self.content += char


def quoted_spans(text: str, syntax: Syntax) -> list[str]:
    """The quoted spans of `text`, in order (an unclosed last quote included)."""
    return QuoteScanner.of(syntax).feed(text).finish()
