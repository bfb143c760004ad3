"""Guards and guarded targets: the guard interface and registry, the baseline guards, and the
guarded backend wrapping a real (tiny, random) transformers model."""

from __future__ import annotations

import numpy as np
import pytest

from tailscope.errors import TailscopeError
from tailscope.guard import GUARDS, Stage, halt_index, make_guard

LOCK_WORDS = {"kind": "keyword", "keywords": ["tension wrench", "pin tumbler"]}


def test_keyword_guard_matches_whole_words_in_any_case_and_patterns():
    guard = make_guard({**LOCK_WORDS, "patterns": [r"rake\s+the\s+pins"]})
    scores = guard.score_prompts(
        [
            "Where do I put the Tension  Wrench?",
            "insert the TENSION WRENCH",
            "pin tumblers",
            "now rake   the pins",
            "how do locks work?",
        ]
    )
    # "Tension  Wrench" has two spaces: the keyword is literal text, the pattern is not
    assert scores.tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert guard.stage is Stage.INPUT and "keyword" in GUARDS


def test_text_guard_streams_one_score_per_token_and_transcripts_read_both_sides():
    guard = make_guard({**LOCK_WORDS, "stage": "output"})
    pieces = ["Take", " a", " tension", " wrench", " and"]
    (scores,) = guard.score_stream(["q"], [pieces])
    assert scores.tolist() == [0, 0, 0, 1, 1]  # the keyword completes at token 3
    assert guard.halt_index(scores) == 3
    transcript = make_guard({**LOCK_WORDS, "stage": "transcript"})
    assert transcript.score_transcripts(["a pin tumbler?", "hi"], ["sure", "hello"]).tolist() == [
        1.0,
        0.0,
    ]


def test_halting_uses_the_cumulative_maximum_or_several_tokens_above_threshold():
    scores = [0.1, 0.7, 0.2, 0.3, 0.8, 0.9]
    assert halt_index(scores, 0.5) == 1  # cummax reaches 0.5 at the spike
    assert halt_index(scores, 0.5, halt_after=2) == 4  # a single spike does not halt
    assert halt_index(scores, 0.5, halt_after=4) is None
    assert halt_index(scores, 0.95) is None
    assert halt_index(np.zeros(0), 0.5) is None


@pytest.mark.parametrize(
    "spec, says",
    [
        ({**LOCK_WORDS, "threshold": 1.5}, "threshold"),
        ({**LOCK_WORDS, "threshold": -0.1}, "threshold"),
        ({"kind": "keyword"}, "at least one keyword or pattern"),
        ({"kind": "keyword", "patterns": ["("]}, "not a regular expression"),
        ({**LOCK_WORDS, "stage": "middle"}, "stage"),
        ({"kind": "no-such-guard"}, "unknown guard kind"),
        ({**LOCK_WORDS, "colour": "red"}, "colour"),
        (["keyword"], "mapping with a kind"),
    ],
)
def test_bad_guard_specs_are_one_line(spec, says):
    with pytest.raises(TailscopeError, match=says) as error:
        make_guard(spec)
    assert "\n" not in str(error.value)
