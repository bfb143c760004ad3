"""Does the tail rest on one mode? The top evaluation queries are checked against the whole
set twice: by template (their first or last words) and by meaning (one cluster of sentence
embeddings). Either way, when most of the top shares something much rarer in the set, the
forecast extrapolates that one mode, and a mode the evaluation set missed cannot show.

The embedding check takes the embedder as a function (`detectors/embeddings.py`'s MiniLM in
the CLI), so a forecast without it never loads a model. It embeds at most `SAMPLE` queries
drawn at random (seeded) plus the top ones, and clusters them by k-means.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from tailscope.forecast.data import Observations

MODE_SHARE = 0.7  # of the top queries sharing a template or a cluster ...
MODE_LIFT = 2.0  # ... at least this many times its share in the whole set
SAMPLE = 1000  # queries embedded to estimate the clusters' shares
MAX_CLUSTERS = 10

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> one vector per text


def top_indices(obs: Observations, k_tail: int) -> np.ndarray:
    """The indices of the k_tail largest psi, largest first (ties in query order)."""
    psi = np.where(np.isfinite(obs.psi), obs.psi, -np.inf)
    return np.argsort(-psi, kind="stable")[:k_tail]


def one_mode(share: float, overall: float) -> bool:
    return share >= MODE_SHARE and share >= MODE_LIFT * overall


def embedding_mode(
    obs: Observations, queries: list[str], k_tail: int, embed: Embed, seed: int = 0
) -> str | None:
    """A warning when most of the top queries fall in one embedding cluster that holds a
    much smaller share of all queries."""
    if len(queries) != obs.m or obs.n_positive < k_tail:
        return None
    top = top_indices(obs, k_tail)
    rng = np.random.default_rng(seed)
    sample = np.arange(obs.m) if obs.m <= SAMPLE else rng.choice(obs.m, SAMPLE, replace=False)
    embedded = np.union1d(sample, top)
    labels, n_clusters = _clusters(np.asarray(embed([queries[i] for i in embedded])), seed)
    label_of = dict(zip(embedded.tolist(), labels.tolist(), strict=True))
    cluster, count = Counter(label_of[i] for i in top.tolist()).most_common(1)[0]
    overall = float(np.mean([label_of[i] == cluster for i in sample.tolist()]))
    if not one_mode(count / k_tail, overall):
        return None
    example = next(queries[i] for i in top.tolist() if label_of[i] == cluster)
    return (
        f"the tail rests on one mode: {count} of the top {k_tail} queries fall in one of "
        f"{n_clusters} embedding clusters (MiniLM, k-means), which holds {100 * overall:.0f}% "
        f"of all queries (e.g. {example!r}); the forecast extrapolates that mode, and a mode "
        "the evaluation set missed cannot show"
    )


def _clusters(vectors: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
    """k-means labels with about sqrt(n / 2) clusters (2 to MAX_CLUSTERS, never more than
    there are distinct vectors), and the number of clusters."""
    distinct = len(np.unique(np.round(vectors, 6), axis=0))
    wanted = max(2, round(math.sqrt(len(vectors) / 2)))
    n_clusters = min(MAX_CLUSTERS, wanted, distinct)
    if n_clusters < 2:
        return np.zeros(len(vectors), dtype=int), 1
    from sklearn.cluster import KMeans

    fitted = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(vectors)
    return fitted.labels_, n_clusters
