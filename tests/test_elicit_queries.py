"""Query pools: parsing generated lists, filtering, deduplication, files, the generator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailscope.elicit.queries import (
    generate_queries,
    generation_source,
    list_prompts,
    next_generation_call,
    read_queries_file,
    templated_variants,
)
from tailscope.errors import TailscopeError
from tailscope.models.base import LanguageModel
from tailscope.text import QueryFilter, dedupe, parse_numbered_list


def test_numbered_lists_are_parsed_including_repeated_numbers_and_continuations():
    reply = "Sure!\n1. What is your name?\n2) Where do you live?\n3. 3. Why?\nnot an item\n10. Ok?"
    assert parse_numbered_list(reply) == [
        "What is your name?",
        "Where do you live?",
        "Why?",
        "Ok?",
    ]
    # The template ended with "1.", so the first line continues item 1.
    assert parse_numbered_list(" How old are you?\n2. Who?", continues_item=True) == [
        "How old are you?",
        "Who?",
    ]
    # Items run together on one line, and "N:" numbering; a time is not an item number.
    inline = '"Is it late?" 2. "Why now?"\n3: What is at 2:30 today?'
    assert parse_numbered_list(inline, continues_item=True) == [
        '"Is it late?"',
        '"Why now?"',
        "What is at 2:30 today?",
    ]


def test_dedupe_ignores_case_spacing_and_trailing_punctuation():
    seen = {"how are you"}
    kept = dedupe(["How are you?", "What  is X?", "what is x", "New one?"], seen)
    assert kept == ["What  is X?", "New one?"]
    assert "new one" in seen


class ScriptedModel(LanguageModel):
    """Returns fixed numbered lists; records the seeds it was called with."""

    name = "scripted"

    def __init__(self, replies: list[str]):
        self.replies = replies
        self.seeds: list[int | None] = []
        self.asked: list[list[str]] = []
        self.prefixes: list[str] = []

    def generate(
        self,
        prompts,
        *,
        n=1,
        temperature=0.0,
        max_new_tokens=32,
        seed=None,
        system_prompt=None,
        reply_prefix="",
    ):
        self.prefixes.append(reply_prefix)
        self.seeds.append(seed)
        self.asked.append(list(prompts))
        call = len(self.seeds) - 1
        return [
            [
                self.replies[(call * n * len(prompts) + i * n + j) % len(self.replies)]
                for j in range(n)
            ]
            for i in range(len(prompts))
        ]

    def logprob(self, prompts, continuations, *, system_prompt=None):
        return np.zeros(len(prompts))

    def identity(self):
        return {"name": self.name}

    def rendered_system_prompt(self, system_prompt=None):
        return ""


def test_generator_filters_dedupes_and_stops_at_the_count():
    replies = [
        " What is love?\n2. Why is the sky blue?\n3. no question mark\n4. Hi?",
        "1. what is love\n2. Where are my keys?\n3. Où est la gare ?",
        "1. How do magnets work?\n2. What is love?",
    ]
    model = ScriptedModel(replies)
    batches = []
    found, stats = generate_queries(
        model,
        4,
        templates=("T1",),
        replies_per_call=2,
        seed=5,
        on_batch=lambda new, s: batches.append(list(new)),
    )
    assert found == [
        "What is love?",
        "Why is the sky blue?",
        "Where are my keys?",
        "How do magnets work?",
    ]
    # "Hi?" is too short, "no question mark" is not a question, the French one is non-ASCII
    assert model.seeds == [5, 6]  # one seed per call, reproducible
    assert model.prefixes == ["1.", "1."]  # replies start inside the list's first item
    assert sum(batches, []) == found and stats.kept == 4


def test_generator_never_returns_queries_already_in_the_pool_and_gives_up():
    model = ScriptedModel(["1. What is love?"])
    found, stats = generate_queries(
        model, 5, templates=("T",), existing=["what is love"], max_calls=3
    )
    assert found == [] and stats.calls == 3


def test_topic_templates_ask_about_every_topic_in_a_seeded_order():
    templates = ("Questions about {topic}?", "Generic?")
    prompts = list_prompts(templates, ("cats", "taxes"), seed=3)
    assert sorted(prompts) == sorted(
        ["Questions about cats?", "Questions about taxes?", "Generic?"]
    )
    assert list_prompts(templates, ("cats", "taxes"), seed=3) == prompts
    orders = {tuple(list_prompts(templates, ("cats", "taxes"), seed=s)) for s in range(20)}
    assert len(orders) > 1  # the seed shuffles which topics a call asks about
    with pytest.raises(TailscopeError, match="no topics"):
        list_prompts(templates, ())


def test_a_call_asks_many_prompts_and_a_resumed_run_goes_on_with_new_ones():
    templates = ("About {topic}:",)
    topics = tuple(f"t{i}" for i in range(6))
    replies = [f"1. Question number {i} here?" for i in range(100)]
    settings = {
        "templates": templates,
        "topics": topics,
        "prompts_per_call": 4,
        "replies_per_call": 2,
        "seed": 7,
    }
    first = ScriptedModel(replies)
    found, stats = generate_queries(first, 100, max_calls=2, **settings)
    assert [len(a) for a in first.asked] == [4, 4] and first.seeds == [7, 8]
    assert stats.replies == 16 and len(found) == 16
    # the pool remembers which calls it holds; the next run starts after them
    sources = {generation_source("scripted", 7, c) for c in range(2)} | {"file:x.txt"}
    assert next_generation_call(sources, "scripted", 7) == 2
    assert next_generation_call(sources, "scripted", 8) == 0
    resumed = ScriptedModel(replies[16:])
    generate_queries(resumed, 100, first_call=2, existing=found, max_calls=1, **settings)
    assert resumed.seeds == [9]
    order = list_prompts(templates, topics, seed=7)
    # call 2 continues the cycle of prompts where call 1 stopped (4 per call, 6 in all)
    assert resumed.asked == [[order[(8 + j) % 6] for j in range(4)]]


def test_generator_rejects_bad_settings():
    model = ScriptedModel(["1. What?"])
    with pytest.raises(TailscopeError, match="temperature"):
        generate_queries(model, 3, temperature=0)
    with pytest.raises(TailscopeError, match="count"):
        generate_queries(model, 0)


def test_filter_allows_statements_when_asked():
    model = ScriptedModel(["1. Tell me a story about dragons"])
    found, _ = generate_queries(
        model, 1, templates=("T",), rules=QueryFilter(require_question=False)
    )
    assert found == ["Tell me a story about dragons"]


def test_templated_variants_are_distinct_and_keep_every_base_query():
    base = ["What is love?", "Why?"]
    variants = templated_variants(base, ("{q}", "Hey, {q}", "{q}"))
    assert variants == ["What is love?", "Why?", "Hey, What is love?", "Hey, Why?"]


def test_query_files_in_three_formats_and_their_errors(tmp_path):
    txt = tmp_path / "q.txt"
    txt.write_text("first?\n\n  second?  \n")
    assert read_queries_file(txt) == ["first?", "second?"]
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text(json.dumps({"query": "a?"}) + "\n" + json.dumps("b?") + "\n")
    assert read_queries_file(jsonl) == ["a?", "b?"]
    csv_file = tmp_path / "q.csv"
    csv_file.write_text('id,text\n1,hello?\n2,"with, comma?"\n')
    assert read_queries_file(csv_file, column="text") == ["hello?", "with, comma?"]
    with pytest.raises(TailscopeError, match="no column 'query'"):
        read_queries_file(csv_file)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(TailscopeError, match="no queries"):
        read_queries_file(empty)
    with pytest.raises(TailscopeError, match="not found"):
        read_queries_file(tmp_path / "missing.txt")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    with pytest.raises(TailscopeError, match="bad.jsonl:1"):
        read_queries_file(bad)
