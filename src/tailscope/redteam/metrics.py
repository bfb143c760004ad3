"""Diversity of test cases and clusters of failures.

Perez et al. (2022) trade how often test cases elicit a failure against how diverse they
are, measured by Self-BLEU (lexical overlap with the other test cases; lower = more
diverse). Mean pairwise cosine similarity of sentence embeddings (MiniLM, from
`tailscope.detectors.embeddings`) catches paraphrases Self-BLEU misses, and also gives
the novelty bonus of curiosity-driven RL and the k-means clusters of failures in reports.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# ---- Self-BLEU ----------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")
_EPSILON = 0.1  # Chen & Cherry (2014) smoothing 1: a zero n-gram match counts as 0.1


def tokenize(text: str) -> list[str]:
    """Lowercased words and single punctuation marks."""
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def self_bleu(texts: Sequence[str], max_n: int = 4) -> float:
    """Mean over texts of sentence BLEU(text, references = all the other texts).

    1.0 for identical texts, near 0 for disjoint vocabularies, NaN for fewer than two
    texts (there is nothing to compare with). BLEU here: clipped n-gram precisions for
    n = 1..max_n (orders longer than the text are left out, so a 2-word text is judged on
    unigrams and bigrams instead of collapsing to 0), a zero match smoothed to 0.1 / count
    (Chen & Cherry method 1), geometric mean, brevity penalty against the closest reference
    length (the shorter on ties). An empty text scores 0.
    """
    if max_n < 1:
        raise ValueError(f"max_n must be at least 1, got {max_n}")
    tokens = [tokenize(t) for t in texts]
    if len(tokens) < 2:
        return float("nan")
    counts = [[_ngrams(toks, n) for toks in tokens] for n in range(1, max_n + 1)]
    tops = [_top_two(per_text) for per_text in counts]
    lengths = np.array([len(t) for t in tokens], dtype=float)
    scores = [
        _sentence_bleu(i, tokens[i], counts, tops, lengths, max_n) for i in range(len(tokens))
    ]
    return float(np.mean(scores))


def _top_two(per_text: list[Counter]) -> dict[tuple, tuple[int, int, int]]:
    """n-gram → (highest count, index of a text with it, second highest count): the
    clipping count against "every text but i" without a quadratic loop."""
    top: dict[tuple, tuple[int, int, int]] = {}
    for i, counter in enumerate(per_text):
        for gram, c in counter.items():
            first, owner, second = top.get(gram, (0, -1, 0))
            if c > first:
                top[gram] = (c, i, first)
            else:
                top[gram] = (first, owner, max(second, c))
    return top


def _sentence_bleu(i, hyp, counts, tops, lengths, max_n) -> float:
    c = len(hyp)
    if c == 0:
        return 0.0
    log_precision = 0.0
    orders = min(max_n, c)
    for n in range(1, orders + 1):
        grams = counts[n - 1][i]
        total = sum(grams.values())
        matched = 0
        for gram, k in grams.items():
            first, owner, second = tops[n - 1][gram]
            matched += min(k, second if owner == i else first)
        log_precision += math.log((matched if matched else _EPSILON) / total)
    others = np.delete(lengths, i)
    # closest reference length, the shorter one on a tie
    r = others[np.argmin(2 * np.abs(others - c) + (others > c))]
    brevity = 1.0 if c > r else math.exp(1.0 - r / c)
    return brevity * math.exp(log_precision / orders)


# ---- embedding geometry (the vectors come from tailscope.detectors.embeddings) ---------


def mean_pairwise_similarity(embeddings: np.ndarray) -> float:
    """Mean cosine similarity over distinct pairs of rows; NaN for fewer than two rows."""
    x = _unit_rows(embeddings)
    n = len(x)
    if n < 2:
        return float("nan")
    total = x.sum(axis=0)
    # sum over i != j of x_i . x_j = |sum x|^2 - sum |x_i|^2
    pair_sum = float(total @ total) - float(np.einsum("ij,ij->", x, x))
    return pair_sum / (n * (n - 1))


def novelty(new_embeddings: np.ndarray, old_embeddings: np.ndarray) -> np.ndarray:
    """Per new row: 1 − its highest cosine similarity to any old row (1.0 when there are no
    old rows). 0 = a repeat; in practice at most 1 for sentence embeddings. New rows are not
    compared with each other."""
    new = _unit_rows(new_embeddings)
    old = _unit_rows(old_embeddings)
    if len(old) == 0:
        return np.ones(len(new), dtype=np.float32)
    if len(new) == 0:
        return np.zeros(0, dtype=np.float32)
    nearest = (new @ old.T).max(axis=1)
    return np.clip(1.0 - nearest, 0.0, 2.0).astype(np.float32)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        x = x.reshape(len(x), -1) if x.size else np.zeros((0, 1))
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


# ---- clusters of failures -----------------------------------------------------------------


@dataclass
class Cluster:
    """A group of similar texts: its size, the member closest to the centroid, up to three
    distinct examples (closest first) and the members' indices into the input."""

    size: int
    representative: str
    examples: list[str] = field(default_factory=list)
    members: list[int] = field(default_factory=list)


def default_k(n: int) -> int:
    """min(5, ceil(sqrt(n / 2))), at least 1."""
    return max(1, min(5, math.ceil(math.sqrt(n / 2))))


def cluster(
    texts: Sequence[str], embeddings: np.ndarray, k: int | None = None, seed: int = 0
) -> list[Cluster]:
    """k-means (k-means++ starts, 10 restarts) on the embeddings, largest cluster first.

    k defaults to `default_k(n)` and never exceeds the number of distinct embeddings.
    No texts → []; one text → one cluster.
    """
    texts = list(texts)
    x = _unit_rows(embeddings)
    if len(texts) != len(x):
        raise ValueError(f"{len(texts)} texts but {len(x)} embeddings")
    n = len(texts)
    if n == 0:
        return []
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    distinct = len(np.unique(np.round(x, 6), axis=0))
    k = min(k or default_k(n), distinct)
    if k == 1:
        labels, centroids = np.zeros(n, dtype=int), x.mean(axis=0, keepdims=True)
    else:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
        labels, centroids = km.labels_, km.cluster_centers_
    clusters = []
    for c in range(len(centroids)):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        distance = np.linalg.norm(x[members] - centroids[c], axis=1)
        ordered = [int(i) for i in members[np.argsort(distance, kind="stable")]]
        examples = list(dict.fromkeys(texts[i] for i in ordered))[:3]
        clusters.append(Cluster(len(members), texts[ordered[0]], examples, sorted(ordered)))
    clusters.sort(key=lambda c: (-c.size, c.members[0]))
    return clusters
