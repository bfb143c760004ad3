"""Per-vocabulary detector tables, computed once per (detector, tokenizer) and kept on disk.

Scoring all ~50k tokens of a vocabulary takes seconds (language identification most of
all), and every ARCA search needs the same table again, so the table is stored as .npy
under `cache_dir()/unigram` and memoised in-process.

Table convention (shared with `search.problem.unigram_log_terms`): float32 of shape
[len(tokenizer)], values in [0, 1]; NaN means "this token cannot be judged" (e.g. a
punctuation token for a language detector) and must be treated as neutral.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tailscope.paths import cache_dir

_MEMO: dict[tuple[str, str], np.ndarray] = {}


def tokenizer_fingerprint(tokenizer) -> str:
    """Stable hex digest of the vocabulary, added tokens and special tokens.

    Two tokenizers with the same fingerprint decode every id to the same text, so they
    can share per-vocabulary tables (the Python object id would not survive a restart).
    """
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    special = sorted(str(t) for t in tokenizer.all_special_tokens)
    payload = json.dumps(
        {"size": len(tokenizer), "vocab": vocab, "special": special}, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def decoded_vocabulary(tokenizer) -> list[str]:
    """The text of every token id on its own, as a user would see it."""
    return [tokenizer.decode([i]) for i in range(len(tokenizer))]


def cached_token_scores(
    detector_key: str, tokenizer, compute: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """The table for `detector_key` on this tokenizer: memory, else disk, else `compute`.

    `detector_key` must change whenever the scores would (detector kind, its parameters
    and a version of the scoring code). `compute` receives the decoded vocabulary. The
    returned array is read-only because it is shared between callers.
    """
    fingerprint = tokenizer_fingerprint(tokenizer)
    memo_key = (detector_key, fingerprint)
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    path = _cache_path(detector_key, fingerprint)
    table = _load(path, len(tokenizer))
    if table is None:
        table = np.asarray(compute(decoded_vocabulary(tokenizer)), dtype=np.float32)
        if table.shape != (len(tokenizer),):
            raise ValueError(f"{detector_key}: table shape {table.shape} != ({len(tokenizer)},)")
        _save(path, table)
    table.setflags(write=False)
    _MEMO[memo_key] = table
    return table


def cache_path(detector_key: str, tokenizer) -> Path:
    """Where the table for this detector and tokenizer lives on disk."""
    return _cache_path(detector_key, tokenizer_fingerprint(tokenizer))


def clear_memory_cache() -> None:
    """Forget in-process tables (tests use this to exercise the disk cache)."""
    _MEMO.clear()


def _cache_path(detector_key: str, fingerprint: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", detector_key)
    return cache_dir() / "unigram" / f"{safe}-{fingerprint}.npy"


def _load(path: Path, size: int) -> np.ndarray | None:
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # missing or corrupt: recompute
    if table.shape != (size,) or table.dtype != np.float32:
        return None
    return table


def _save(path: Path, table: np.ndarray) -> None:
    """Write atomically so that concurrent runs never read a half-written table."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, table)
        os.replace(tmp, path)
    except OSError:
        # An unwritable cache only costs time on the next run.
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
