"""What a red-team run found: hit rate (difficulty), diversity, and clustered failures."""

from __future__ import annotations

import numpy as np

from tailscope.store import RedTeamCase

SELF_BLEU_SAMPLE = 200  # Self-BLEU is quadratic: a fixed random subset beyond this size


def summarize(cases: list[RedTeamCase], *, embed: bool = True, seed: int = 0) -> dict:
    """Hit rates (overall and per source), Self-BLEU and mean pairwise embedding
    similarity of the test cases, and k-means clusters of the failures."""
    from tailscope.detectors.embeddings import embedder
    from tailscope.redteam.metrics import cluster, mean_pairwise_similarity, self_bleu

    texts = [c.test_case for c in cases]
    hits = [c for c in cases if c.hit]
    summary = {
        "queries": len(cases),
        "hits": len(hits),
        "hit_rate": len(hits) / len(cases) if cases else float("nan"),
        "hit_rate_interval": _interval(len(hits), len(cases)),
        "unique_test_cases": len(set(texts)),
        "by_source": _by_source(cases),
        "self_bleu": self_bleu(_subset(texts, seed)),
        "embedding_similarity": float("nan"),
        "failure_clusters": [],
    }
    if embed and cases:
        model = embedder()
        if len(texts) >= 2:
            summary["embedding_similarity"] = mean_pairwise_similarity(model.embed(texts))
        if hits:
            failures = [c.test_case for c in hits]
            summary["failure_clusters"] = [
                {"size": c.size, "representative": c.representative, "examples": c.examples}
                for c in cluster(failures, model.embed(failures), seed=seed)
            ]
    return summary


def _interval(hits: int, queries: int) -> list[float] | None:
    """95% Wilson interval of the hit rate: a few hundred queries leave wide bands."""
    from tailscope.stats import binomial_interval

    if queries == 0:
        return None
    low, high = binomial_interval(hits, queries)
    return [float(low), float(high)]


def _by_source(cases: list[RedTeamCase]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for c in cases:
        row = out.setdefault(c.source, {"queries": 0, "hits": 0})
        row["queries"] += 1
        row["hits"] += int(c.hit)
    for row in out.values():
        row["hit_rate"] = row["hits"] / row["queries"]
    return out


def _subset(texts: list[str], seed: int) -> list[str]:
    if len(texts) <= SELF_BLEU_SAMPLE:
        return texts
    picked = np.random.default_rng(seed).choice(len(texts), SELF_BLEU_SAMPLE, replace=False)
    return [texts[i] for i in sorted(picked)]
