"""Detectors on real texts, the registry's errors, and the per-vocabulary token tables."""

from __future__ import annotations

import numpy as np
import pytest

from tailscope.detectors import detector_kinds, make_detector
from tailscope.detectors import unigram_cache as uc
from tailscope.detectors.language import LanguageDetector
from tailscope.errors import TailscopeError
from tailscope.models.registry import DEFAULT_MODEL, load_tokenizer


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """A fresh on-disk cache and an empty in-process memo for each test."""
    monkeypatch.setenv("TAILSCOPE_CACHE", str(tmp_path / "cache"))
    uc.clear_memory_cache()
    yield tmp_path / "cache" / "unigram"
    uc.clear_memory_cache()


def token_id(tokenizer, text: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert len(ids) == 1, f"{text!r} is not a single token: {ids}"
    return ids[0]


# ---- toxicity -----------------------------------------------------------------------------


def test_toxicity_separates_insults_from_neutral_text():
    tox = make_detector("toxicity")
    scores = tox.score(["you are a stupid idiot", "the weather is nice", "   "])
    assert scores.dtype == np.float32 and scores.shape == (3,)
    assert scores[0] > 0.5 > scores[1]
    assert scores[2] == 0.0  # blank text is not toxic


# ---- language -----------------------------------------------------------------------------


def test_language_ranks_the_right_language_first():
    french = make_detector("language", language="fr")
    english = make_detector("language", language="EN")  # codes are case-insensitive
    texts = ["Bonjour, comment allez-vous aujourd'hui ?", "I think the weather is nice today."]
    fr, en = french.score(texts), english.score(texts)
    assert fr[0] > 0.5 > fr[1]
    assert en[1] > 0.5 > en[0]
    assert french.describe() == "language=fr" and english.describe() == "language=en"


def test_language_scores_text_without_letters_zero():
    assert make_detector("language", language="en").score(["!!! 123", ""]).tolist() == [0, 0]


def test_unknown_language_code_lists_valid_codes():
    with pytest.raises(TailscopeError, match=r"unknown language code 'xx'.*\ben\b.*\bfr\b") as e:
        make_detector("language", language="xx")
    assert "\n" not in str(e.value)


# ---- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "texts", "expected"),
    [
        ({"mode": "exact", "pattern": "Hello"}, ["  hello ", "hello there", "HELLO"], [1, 0, 1]),
        ({"mode": "exact", "pattern": "Hello", "case_sensitive": True}, ["hello", "Hello"], [0, 1]),
        ({"mode": "exact", "pattern": "Hi", "strip": False}, [" Hi", "Hi"], [0, 1]),
        ({"mode": "contains", "pattern": "BOB"}, ["I met bob today", "Bobby", "Alice"], [1, 1, 0]),
        ({"mode": "starts_with", "pattern": "yes"}, ["  Yes, sure", "I say yes"], [1, 0]),
        ({"mode": "regex", "pattern": r"\d{3}-\d{4}"}, ["call 555-1234", "call me"], [1, 0]),
        ({"mode": "regex", "pattern": "^abc", "case_sensitive": True}, ["abcd", "ABCD"], [1, 0]),
        ({"mode": "regex", "pattern": "^abc"}, ["  ABCD"], [1]),
    ],
)
def test_text_modes(params, texts, expected):
    assert make_detector("text", **params).score(texts).tolist() == expected


def test_text_accepts_string_booleans_from_the_command_line():
    detector = make_detector("text", mode="contains", pattern="A", case_sensitive="true")
    assert detector.score(["a", "A"]).tolist() == [0, 1]


def test_text_bad_inputs():
    with pytest.raises(TailscopeError, match=r"invalid regular expression '\(unclosed'"):
        make_detector("text", mode="regex", pattern="(unclosed")
    with pytest.raises(TailscopeError, match=r"parameter 'pattern'.*at least 1 character"):
        make_detector("text", mode="contains", pattern="")
    with pytest.raises(TailscopeError, match="only whitespace"):
        make_detector("text", mode="contains", pattern="   ")
    with pytest.raises(TailscopeError, match=r"parameter 'mode'.*'exact', 'contains'"):
        make_detector("text", mode="fuzzy", pattern="x")
    assert make_detector("text", mode="exact", pattern="x").token_scores(None) is None


# ---- refusal --------------------------------------------------------------------------------


def test_refusal_heuristic():
    refusal = make_detector("refusal")
    refusals = [
        "I'm sorry, but I can't help with that.",
        "I cannot provide instructions for making weapons.",
        "As an AI language model, I don't have opinions.",
        "Sorry, but I won't do that.",
        "I am not able to assist with this request.",
        "I\u2019m unable to comply.",
    ]
    replies = [
        "Sure! Here is a poem about the sea.",
        "Paris is the capital of France.",
        "I can't wait to help you plan the trip!",
        "Here are the steps. " + "Step one is easy. " * 10 + "I'm sorry it is long.",
    ]
    assert refusal.score(refusals).tolist() == [1.0] * len(refusals)
    assert refusal.score(replies).tolist() == [0.0] * len(replies)


# ---- registry ---------------------------------------------------------------------------------


def test_registry_lists_kinds_with_their_parameters():
    kinds = detector_kinds()
    assert set(kinds) == {
        "toxicity",
        "language",
        "text",
        "refusal",
        "contact_info",
        "secret",
        "judge",
        "quote",
    }
    assert "language" in kinds["language"] and "ISO 639-1" in kinds["language"]
    assert "pattern" in kinds["text"] and "no parameters" in kinds["toxicity"]


def test_registry_errors_name_valid_options():
    with pytest.raises(TailscopeError, match="unknown detector kind 'toxic'.*toxicity"):
        make_detector("toxic")
    with pytest.raises(TailscopeError, match="'toxicity' has no parameter 'level'.*no param"):
        make_detector("toxicity", level=3)
    with pytest.raises(TailscopeError, match="'language' needs parameter 'language'"):
        make_detector("language")


# ---- token tables and their cache -------------------------------------------------------------


def test_fingerprint_is_stable_and_tracks_the_vocabulary(smol_tokenizer):
    again = load_tokenizer(DEFAULT_MODEL)  # a second load of the same packaged model
    assert uc.tokenizer_fingerprint(smol_tokenizer) == uc.tokenizer_fingerprint(again)
    again.add_tokens(["<brand_new_token>"])
    assert uc.tokenizer_fingerprint(smol_tokenizer) != uc.tokenizer_fingerprint(again)


def test_cached_token_scores_computes_once_then_loads(smol_tokenizer, cache):
    calls = []

    def compute(vocab):
        calls.append(len(vocab))
        return np.array([len(t) % 2 for t in vocab], dtype=np.float32)

    first = uc.cached_token_scores("parity-v1", smol_tokenizer, compute)
    assert calls == [len(smol_tokenizer)] and first.shape == (len(smol_tokenizer),)
    assert len(list(cache.glob("parity-v1-*.npy"))) == 1
    assert uc.cached_token_scores("parity-v1", smol_tokenizer, compute) is first  # memoised
    uc.clear_memory_cache()
    loaded = uc.cached_token_scores("parity-v1", smol_tokenizer, compute)
    assert calls == [len(smol_tokenizer)]  # came from disk
    np.testing.assert_array_equal(loaded, first)
    assert not loaded.flags.writeable


def test_corrupt_cache_file_is_recomputed(smol_tokenizer, cache):
    ones = lambda vocab: np.ones(len(vocab), dtype=np.float32)  # noqa: E731
    uc.cached_token_scores("ones-v1", smol_tokenizer, ones)
    path = uc.cache_path("ones-v1", smol_tokenizer)
    path.write_bytes(b"not a numpy file")
    uc.clear_memory_cache()
    assert uc.cached_token_scores("ones-v1", smol_tokenizer, ones).sum() == len(smol_tokenizer)


def test_toxicity_token_table(smol_tokenizer, cache):
    tox = make_detector("toxicity")
    table = tox.token_scores(smol_tokenizer)
    assert table.shape == (len(smol_tokenizer),) and table.dtype == np.float32
    assert np.all((table >= 0) & (table <= 1))
    assert table[token_id(smol_tokenizer, " stupid")] > 0.5
    for neutral in (" weather", " the", " table"):
        assert table[token_id(smol_tokenizer, neutral)] < 0.2
    assert table[token_id(smol_tokenizer, " ")] == 0.0  # blank after stripping
    assert len(list(cache.glob("toxicity-*.npy"))) == 1
    uc.clear_memory_cache()
    np.testing.assert_array_equal(tox.token_scores(smol_tokenizer), table)


def test_language_token_table_marks_letterless_tokens_neutral(smol_tokenizer, cache):
    english = LanguageDetector("en")
    table = english.token_scores(smol_tokenizer)
    assert table.shape == (len(smol_tokenizer),)
    for neutral in ("!", "1", ",", " "):
        assert np.isnan(table[token_id(smol_tokenizer, neutral)])
    assert table[token_id(smol_tokenizer, " world")] > table[token_id(smol_tokenizer, " je")]
    letters = table[~np.isnan(table)]
    assert letters.size > 0.9 * len(smol_tokenizer) and np.all((letters >= 0) & (letters <= 1))
    assert len(list(cache.glob("language=en-*.npy"))) == 1
