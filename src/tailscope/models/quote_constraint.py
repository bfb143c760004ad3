"""Constrained decoding for verified quotes: inside an open quote, only tokens that keep the
quote a verbatim piece of one source (or close it) may be generated.

A target file turns it on for every generation of a transformers model:

    model: smollm2-135m-instruct
    options:
      quote_constraint: {source_files: [policy.txt], syntax: all}

The quote syntaxes and the normalization are `tailscope.quoting`'s, shared with the `quote`
detector, so a reply generated under the constraint passes that detector with the same
settings. Outside a quote every token is allowed, except one that opens a quote and goes
on with text that no source holds. Special tokens (the end of the reply) are always
allowed, so a quote may be cut off, never invented.

Per step and open quote, the allowed tokens are found by looking up the source text that
follows each occurrence of the quote so far in a table of the vocabulary (text → ids), a
few dictionary lookups per occurrence, instead of testing every token. Tokens holding a
delimiter character are few and are checked one by one through the scanner. A character
split over several tokens (bytes of one UTF-8 character) reads as U+FFFD on its own and so
cannot be generated inside a quote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailscope.errors import TailscopeError
from tailscope.files import read_text_file
from tailscope.quoting import DELIMITERS, Normalization, QuoteScanner, Syntax

if TYPE_CHECKING:  # the options are read at every CLI start, which must not load torch
    import torch


class QuoteConstraintOptions(BaseModel):
    """A target file's `options.quote_constraint`."""

    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, description="source texts, inline")
    source_files: list[str] = Field(default_factory=list, description="files, one source each")
    syntax: Syntax = Field("all", description="gophercite, quotation-marks or all")
    collapse_whitespace: bool = Field(True, description="runs of whitespace count as one space")
    ignore_case: bool = Field(False, description="compare case-folded text")

    @model_validator(mode="after")
    def _has_text(self) -> QuoteConstraintOptions:
        try:  # read now, so a missing file is refused before any model loads
            source_texts(self)
        except TailscopeError as exc:
            raise ValueError(str(exc)) from None
        return self


def source_texts(options: QuoteConstraintOptions) -> list[str]:
    texts = list(options.sources)
    texts += [read_text_file(Path(p), f"quote source file {p}") for p in options.source_files]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise TailscopeError(
            "quote_constraint: no source text: give sources: [TEXT] or source_files: [PATH] "
            "with some text in them"
        )
    return texts


class QuoteConstraint:
    """The vocabulary tables of one tokenizer and source set; `processor` makes the logits
    processor of one `generate` call."""

    def __init__(self, tokenizer, options: QuoteConstraintOptions):
        self.options = options
        self.delimiters = DELIMITERS[options.syntax]
        self.normalization = Normalization(options.collapse_whitespace, options.ignore_case)
        self.sources = [self.normalization.apply(t) for t in source_texts(options)]
        self.tokenizer = tokenizer
        self._build_tables(tokenizer)

    def _build_tables(self, tokenizer) -> None:
        delimiter_chars = {c for pair in self.delimiters for d in pair for c in d}
        self.special = sorted(set(tokenizer.all_special_ids))
        self.texts = [tokenizer.decode([i]) for i in range(len(tokenizer))]
        self.tricky: list[int] = []  # tokens with a delimiter character: checked one by one
        self.by_text: dict[str, list[int]] = defaultdict(list)
        self.by_stripped: dict[str, list[int]] = defaultdict(list)  # leading whitespace dropped
        special = set(self.special)
        for i, text in enumerate(self.texts):
            if i in special or "\ufffd" in text:
                continue
            if delimiter_chars & set(text):
                self.tricky.append(i)
                continue
            normalized = self.normalization.apply(text)
            self.by_text[normalized].append(i)
            self.by_stripped[normalized.lstrip()].append(i)
        self.longest = max(len(key) for key in self.by_text)

    def describe(self) -> dict:
        return self.options.model_dump()

    def processor(self, prefixes: Sequence[str]) -> QuoteLogitsProcessor:
        """For a batch whose row i continues the reply text `prefixes[i]`."""
        return QuoteLogitsProcessor(self, list(prefixes))

    # ---- what may follow ----------------------------------------------------------------

    def key(self, open_text: str) -> str:
        """An open quote as compared: normalized, its leading whitespace dropped."""
        return self.normalization.apply(open_text).lstrip()

    def quote_ok(self, quote: str) -> bool:
        key = self.normalization.apply(quote).strip()
        return not key or any(key in s for s in self.sources)

    def open_ok(self, open_text: str) -> bool:
        key = self.key(open_text)
        return not key or any(key in s for s in self.sources)

    def allowed(self, state: QuoteScanner) -> list[int]:
        """Token ids that may follow `state` (special tokens included)."""
        ids = list(self.special)
        ids += [i for i in self.tricky if self._still_ok(state, self.texts[i])]
        if state.inside:
            ids += self._continuations(self.key(state.open_text()))
        return ids

    def _still_ok(self, state: QuoteScanner, text: str) -> bool:
        after = state.copy().feed(text)
        closed = after.quotes[len(state.quotes) :]
        # an undecided closer prefix ("]" of "]%") is not checked yet: it may close the quote
        return all(self.quote_ok(q) for q in closed) and self.open_ok(after.content)

    def _continuations(self, key: str) -> list[int]:
        """Plain tokens that extend the open quote `key` to text some source holds."""
        absorbs_space = not key or (self.normalization.collapse_whitespace and key.endswith(" "))
        table = self.by_stripped if absorbs_space else self.by_text
        windows = set()
        for source in self.sources:
            start = source.find(key)
            while start != -1:
                end = start + len(key)
                windows.add(source[end : end + self.longest])
                start = source.find(key, start + 1)
        found = set(table.get("", [])) if absorbs_space else set()
        for window in windows:
            for length in range(1, len(window) + 1):
                found.update(table.get(window[:length], ()))
        return sorted(found)


class QuoteLogitsProcessor:
    """A transformers logits processor: rows inside a quote get -inf for every token that
    would make the quote unverifiable. It reads each row's reply so far from `input_ids`
    (the prompt's length is taken at the first call)."""

    def __init__(self, constraint: QuoteConstraint, prefixes: list[str]):
        self.constraint, self.prefixes = constraint, prefixes
        self.start: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor):
        import torch

        if self.start is None:
            self.start = input_ids.shape[1]
        tokenizer = self.constraint.tokenizer
        replies = tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
        for row, reply in enumerate(replies):
            state = QuoteScanner(self.constraint.delimiters).feed(self.prefixes[row] + reply)
            allowed = torch.tensor(self.constraint.allowed(state), dtype=torch.long)
            if state.inside:
                mask = torch.ones(scores.shape[-1], dtype=torch.bool)
                mask[allowed[allowed < scores.shape[-1]]] = False
            else:  # outside a quote only tricky tokens may be refused
                mask = torch.zeros(scores.shape[-1], dtype=torch.bool)
                mask[torch.tensor(self.constraint.tricky, dtype=torch.long)] = True
                mask[allowed[allowed < scores.shape[-1]]] = False
            scores[row, mask.to(scores.device)] = float("-inf")
        return scores
