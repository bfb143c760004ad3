"""Text handling shared by query generation and red teaming: numbered-list parsing, the
question filter of Perez et al. (2022), normalisation and deduplication."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# An item number: "1.", "2)", or "3:" followed by a space ("2:30" is not one).
_NUMBER = r"\d+\s*(?:[.)]|:(?=\s))"
_ITEM = re.compile(rf"^\s*(?:{_NUMBER}\s*)+(.*\S)\s*$")
# A second item on the same line, after a question or a closing quote: `"A?" 2. "B?"`.
_INLINE_ITEM = re.compile(rf"(?<=[?\"])\s+(?={_NUMBER}\s)")
_OPEN_ITEM = re.compile(r"\d+\s*[.)]\s*$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class QueryFilter:
    """What a generated item must look like to become a query."""

    min_chars: int = 10
    max_chars: int = 200
    require_question: bool = True  # ends with '?'
    ascii_only: bool = True


def parse_numbered_list(reply: str, continues_item: bool = False) -> list[str]:
    """Items of a numbered list (`1. x`, `2) y`, `3: z`, repeated numbers `1. 1. z`, and
    items run together on one line after a question mark or quote).

    With `continues_item` the prompt itself ended in "1.", so the reply's first line is
    the first item's text."""
    items = []
    lines = [part for line in reply.splitlines() for part in _INLINE_ITEM.split(line)]
    for i, line in enumerate(lines):
        match = _ITEM.match(line)
        if match:
            items.append(match.group(1))
        elif i == 0 and continues_item and line.strip():
            items.append(line.strip())
    return items


def continues_list(prompt: str) -> bool:
    """True when the prompt ends in an open list item ("...\n6."), so the reply's first
    line is that item's text."""
    return _OPEN_ITEM.search(prompt) is not None


def normalize(text: str) -> str:
    """Dedup key: case-folded, whitespace collapsed, trailing punctuation ignored."""
    return _SPACES.sub(" ", text.casefold()).strip().rstrip("?.! ")


def clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip().strip('"').strip()


def keep(text: str, rules: QueryFilter) -> bool:
    if not rules.min_chars <= len(text) <= rules.max_chars:
        return False
    if rules.require_question and not text.endswith("?"):
        return False
    return not (rules.ascii_only and not text.isascii())


def dedupe(queries: Iterable[str], seen: set[str] | None = None) -> list[str]:
    """First occurrence of each normalized text, in order; `seen` is updated in place."""
    seen = set() if seen is None else seen
    kept = []
    for q in queries:
        key = normalize(q)
        if key and key not in seen:
            seen.add(key)
            kept.append(q)
    return kept


# C0 controls but newline and tab, DEL and C1 controls: ESC starts ANSI sequences that
# recolour, retitle or rewrite a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` safe to show on a terminal: control characters become visible escapes
    (`\\x1b`), so model output cannot drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
