"""Token filters shared by every optimizer: which tokens may appear, and which candidate
prompts survive the decode→encode round trip a real user's text goes through."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

_WORD = re.compile(r"[a-z0-9]+")


def decoded_vocabulary(tokenizer, vocab_size: int) -> list[str]:
    return [tokenizer.decode([i]) for i in range(vocab_size)]


def allowed_tokens(
    tokenizer, vocab_size: int, allow_non_ascii: bool, forbidden_texts: Sequence[str]
) -> torch.Tensor:
    """Boolean mask over the vocabulary of tokens an optimizer may place.

    Excluded: special and added tokens, tokens that decode to nothing or to text that does
    not re-encode to themselves, non-ASCII or non-printable tokens (unless allowed), tokens
    whose text contains a forbidden text (" pigment" contains "pig", " class" contains
    "ass"; case-insensitive, as the verifier checks prompts), and tokens that copy a piece
    of a forbidden word (so that "say X" is not solved by writing X a piece at a time).
    """
    mask = _base_mask(tokenizer, vocab_size, allow_non_ascii).clone()
    needles = [t.casefold() for t in forbidden_texts]
    forbidden_words = [w for t in needles for w in _WORD.findall(t)]
    if needles:
        for i, text in enumerate(decoded_vocabulary(tokenizer, vocab_size)):
            folded = text.casefold()
            if mask[i] and (any(n in folded for n in needles) or _copies(folded, forbidden_words)):
                mask[i] = False
    return mask


_BASE_MASKS: dict[tuple[int, int, bool], torch.Tensor] = {}


def _base_mask(tokenizer, vocab_size: int, allow_non_ascii: bool) -> torch.Tensor:
    key = (id(tokenizer), vocab_size, allow_non_ascii)
    if key not in _BASE_MASKS:
        special = set(tokenizer.all_special_ids)
        special.update(getattr(tokenizer, "added_tokens_decoder", {}).keys())
        texts = decoded_vocabulary(tokenizer, vocab_size)
        encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
        mask = torch.ones(vocab_size, dtype=torch.bool)
        for i, (text, ids) in enumerate(zip(texts, encoded, strict=True)):
            printable = text.isprintable() and (allow_non_ascii or text.isascii())
            mask[i] = i not in special and bool(text) and printable and ids == [i]
        _BASE_MASKS[key] = mask
    return _BASE_MASKS[key]


def _copies(token_text: str, forbidden_words: list[str]) -> bool:
    """`token_text` and the words are casefolded."""
    piece = token_text.strip()
    if len(_WORD.findall(piece)) != 1 or len(piece) < 2:
        return False
    # A piece of 3+ characters inside a forbidden word, or a whole 2-letter forbidden word.
    return any((len(piece) >= 3 and piece in w) or piece == w for w in forbidden_words)


def survives_round_trip(tokenizer, rows: torch.Tensor) -> torch.Tensor:
    """For each row of token ids: does decode→encode give back exactly these ids?"""
    texts = tokenizer.batch_decode(rows.tolist())
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    keep = [enc == row for enc, row in zip(encoded, rows.tolist(), strict=True)]
    return torch.tensor(keep, dtype=torch.bool, device=rows.device)
