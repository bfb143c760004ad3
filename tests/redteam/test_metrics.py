"""Diversity metrics and failure clusters on real sentences, with the real MiniLM embedder."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailscope.detectors.embeddings import embedder
from tailscope.redteam.metrics import (
    cluster,
    default_k,
    mean_pairwise_similarity,
    novelty,
    self_bleu,
    tokenize,
)

COOKING = [
    "How long should I cook rice on the stove?",
    "What is a good recipe for chicken soup?",
    "How do I cook pasta so it does not stick?",
    "What spices should I cook a curry with?",
    "How do I bake bread at home in my oven?",
]
CARS = [
    "How often should I change the oil in my car?",
    "Why does my car battery keep dying?",
    "What tire pressure is right for my car?",
    "How do I know when my car needs new brakes?",
    "Is it safe to drive my car with the engine light on?",
]


@pytest.fixture(scope="module")
def embed():
    return embedder().embed


# ---- Self-BLEU ----------------------------------------------------------------------------


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("What's UP, doc?") == ["what", "'", "s", "up", ",", "doc", "?"]


def test_self_bleu_of_identical_texts_is_one():
    assert self_bleu(["What is your favourite colour?"] * 4) == pytest.approx(1.0)
    assert self_bleu(["Hi!", "hi !"]) == pytest.approx(1.0)  # short texts do not collapse


def test_self_bleu_of_disjoint_vocabularies_is_low():
    texts = [
        "alpha beta gamma delta epsilon",
        "one two three four five",
        "red green blue yellow purple",
    ]
    assert 0.0 < self_bleu(texts) < 0.1


def test_self_bleu_partial_overlap_is_in_between_and_rises_with_overlap():
    templated = [
        "What is your favourite food to eat?",
        "What is your favourite film to watch?",
        "What is your favourite book to read?",
    ]
    varied = [
        "What is your favourite food to eat?",
        "Where did you grow up as a child?",
        "How many languages can you speak fluently?",
    ]
    high, low = self_bleu(templated), self_bleu(varied)
    assert 0.0 < low < high and 0.2 < high < 0.9


def test_self_bleu_matches_hand_computed_value():
    # hypothesis "a b c" vs reference "a b d": p1 = 2/3, p2 = 1/2, p3 = 0.1/1 (smoothed),
    # equal lengths, so BLEU = (2/3 * 1/2 * 0.1) ** (1/3) for each direction.
    expected = (2 / 3 * 1 / 2 * 0.1) ** (1 / 3)
    assert self_bleu(["a b c", "a b d"], max_n=4) == pytest.approx(expected)


def test_self_bleu_brevity_penalty_uses_the_closest_reference():
    # "a b" vs "a b c d": every n-gram matches but the text is short: BP = exp(1 - 4/2)
    pair = self_bleu(["a b", "a b c d"])
    # the long text against the short one: unigrams 2/4, bigrams 1/3, 3- and 4-grams
    # smoothed (0.1/2, 0.1/1), no brevity penalty
    long_bleu = (2 / 4 * 1 / 3 * 0.1 / 2 * 0.1 / 1) ** (1 / 4)
    assert pair == pytest.approx((math.exp(1 - 4 / 2) + long_bleu) / 2)


def test_self_bleu_needs_two_texts():
    assert math.isnan(self_bleu([]))
    assert math.isnan(self_bleu(["only one"]))
    assert self_bleu(["", "something"]) < 0.1  # an empty text scores 0, not an error


# ---- embeddings ---------------------------------------------------------------------------


def test_embeddings_are_normalized_with_384_dimensions(embed):
    vectors = embed(["Hello there.", "General Kenobi!"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, 384)
    assert embedder() is embedder()  # one model per process


def test_paraphrases_are_more_similar_than_unrelated_sentences(embed):
    question = "How do I reset my password?"
    paraphrases = embed([question, "What are the steps to change my login password?"])
    unrelated = embed([question, "Penguins live in the southern hemisphere."])
    assert mean_pairwise_similarity(paraphrases) > mean_pairwise_similarity(unrelated) + 0.3


def test_mean_pairwise_similarity_matches_the_pairwise_mean(embed):
    vectors = embed(COOKING[:4])
    sims = vectors @ vectors.T
    expected = (sims.sum() - np.trace(sims)) / (4 * 3)
    assert mean_pairwise_similarity(vectors) == pytest.approx(float(expected), abs=1e-5)
    assert math.isnan(mean_pairwise_similarity(vectors[:1]))


def test_novelty_is_zero_for_repeats_and_high_for_new_topics(embed):
    old = embed(COOKING)
    new = embed([COOKING[0], "How long should I bake sourdough bread?", CARS[0]])
    scores = novelty(new, old)
    assert scores.shape == (3,)
    assert scores[0] == pytest.approx(0.0, abs=1e-5)  # a repeat is not novel
    assert scores[0] < scores[1] < scores[2]  # a paraphrase is a little novel, a new topic more
    assert novelty(new, old[:0]).tolist() == [1.0, 1.0, 1.0]  # nothing seen yet
    assert novelty(new[:0], old).shape == (0,)


# ---- clusters -----------------------------------------------------------------------------


def test_clusters_separate_cooking_from_cars(embed):
    texts = COOKING + CARS
    clusters = cluster(texts, embed(texts), k=2, seed=0)
    assert [c.size for c in clusters] == [5, 5]
    groups = [set(c.members) for c in clusters]
    assert set(range(5)) in groups and set(range(5, 10)) in groups
    for c in clusters:
        assert c.representative in [texts[i] for i in c.members]
        assert c.examples[0] == c.representative and len(c.examples) == 3
    # with the default k (3 for 10 texts) a topic may split, but no cluster mixes topics
    for seed in range(3):
        default = cluster(texts, embed(texts), seed=seed)
        assert len(default) == 3 and sum(c.size for c in default) == 10
        assert all(max(c.members) < 5 or min(c.members) >= 5 for c in default)


def test_cluster_defaults_and_edge_cases(embed):
    assert default_k(0) == 1 and default_k(2) == 1 and default_k(10) == 3
    assert default_k(1000) == 5
    assert cluster([], np.zeros((0, 384))) == []
    one = cluster(["Only one?"], embed(["Only one?"]))
    assert len(one) == 1 and one[0].size == 1 and one[0].members == [0]
    # duplicates: k never exceeds the number of distinct texts
    dupes = ["Same question?"] * 4
    clusters = cluster(dupes, embed(dupes), k=3)
    assert len(clusters) == 1 and clusters[0].examples == ["Same question?"]
    # sorted by size, largest first, and deterministic for a seed
    texts = COOKING + CARS[:2]
    vectors = embed(texts)
    first = cluster(texts, vectors, k=2, seed=1)
    assert first[0].size >= first[1].size
    assert [c.members for c in first] == [c.members for c in cluster(texts, vectors, k=2, seed=1)]
    with pytest.raises(ValueError):
        cluster(texts, vectors[:3])
