"""Verified quotes: the quote detector, the quote constraint of the transformers backend,
and the unsupported-quote behavior in search, red teaming and elicitation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tailscope.behaviors import load_behavior
from tailscope.behaviors.ref import BehaviorRef
from tailscope.detectors import make_detector
from tailscope.elicit.session import ElicitConfig
from tailscope.errors import TailscopeError
from tailscope.models.hf import HFModel
from tailscope.models.quote_constraint import QuoteConstraint, QuoteConstraintOptions
from tailscope.quoting import QuoteScanner, quoted_spans
from tailscope.redteam.session import RedTeamConfig
from tailscope.runs.execute import execute
from tailscope.search.config import SearchConfig, SearchSettings
from tailscope.store.workspace import Workspace
from tests.cli import assert_one_line_error, tailscope
from tests.redteam.fakes import ScriptedAttacker

SOURCE = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
    "It is named after the engineer Gustave Eiffel, whose company designed and built the "
    "tower from 1887 to 1889."
)
CAFE = "Le café crème coûte trois euros à Zürich."


def quote(**params):
    return make_detector("quote", sources=[SOURCE], **params)


# ---- the scanner and each syntax -------------------------------------------------------


def test_each_syntax_finds_its_quotes_and_only_those():
    text = 'He said %[named after]% and "lattice tower" and \u201cChamp de Mars\u201d.'
    assert quoted_spans(text, "gophercite") == ["named after"]
    assert quoted_spans(text, "quotation-marks") == ["lattice tower", "Champ de Mars"]
    assert quoted_spans(text, "all") == ["named after", "lattice tower", "Champ de Mars"]
    # an apostrophe opens nothing; a bracket inside a GopherCite quote is its text
    assert quoted_spans("don't %[a ]b]% c", "all") == ["a ]b"]
    # a quote cut off at the end of the reply runs to the end
    assert quoted_spans('It says "built the tow', "all") == ["built the tow"]
    assert quoted_spans("It says %[built the tower]", "all") == ["built the tower"]


def test_the_scanner_reads_token_by_token_as_it_reads_whole_text():
    text = 'x %[named after]% y "Paris, France" z \u201copen'
    scanner = QuoteScanner.of("all")
    for piece in ["x %", "[nam", "ed after]", "% y ", '"Paris', ', France" z \u201c', "open"]:
        scanner.feed(piece)
    assert (
        scanner.finish()
        == quoted_spans(text, "all")
        == [
            "named after",
            "Paris, France",
            "open",
        ]
    )


# ---- the detector's verdicts -----------------------------------------------------------


def test_verbatim_quotes_pass_and_invented_spliced_or_off_by_one_quotes_fail():
    detector = quote()
    verbatim = 'It is "named after the engineer Gustave Eiffel" (%[built the tower]%).'
    spliced = 'It is "a wrought-iron lattice tower designed and built" by Eiffel.'
    off_by_one = 'It is "named after the architect Gustave Eiffel".'
    paraphrase = 'It is "called after the engineer Eiffel".'
    across_sources = make_detector("quote", sources=["one two", "three four"])
    scores = detector.score([verbatim, spliced, off_by_one, paraphrase])
    assert scores.tolist() == [0.0, 1.0, 1.0, 1.0]
    [a, b] = detector.check(verbatim)
    assert a.supported and b.supported and a.source == "source 1"
    # a quote must sit inside one source, not across two
    assert across_sources.score(['"two three"', '"three four"']).tolist() == [1.0, 0.0]


def test_an_unsupported_quote_is_reported_with_the_nearest_source_span():
    [verdict] = quote().unsupported('He was "named after the architect Gustave Eiffel".')
    assert not verdict.supported and verdict.source is None
    assert "named after the engineer Gustave Eiffel" in verdict.nearest
    assert 80 < verdict.similarity < 100


def test_normalizations_whitespace_case_punctuation_and_unicode():
    spaced = 'It is "named   after\nthe engineer"'
    shouted = 'It is "NAMED AFTER THE ENGINEER"'
    period = 'It is "designed and built the tower."'  # the source has "tower from"
    assert quote().score([spaced, shouted, period]).tolist() == [0.0, 1.0, 1.0]
    assert quote(collapse_whitespace=False).score([spaced]).tolist() == [1.0]
    assert quote(ignore_case=True).score([shouted]).tolist() == [0.0]
    assert quote(strip_punctuation=True).score([period]).tolist() == [0.0]
    cafe = make_detector("quote", sources=[CAFE])
    decomposed = "Le cafe\u0301 cre\u0300me"  # é and è as letter + combining accent
    assert cafe.score([f'"{decomposed}"', "%[coûte trois euros à Zürich]%"]).tolist() == [0, 0]
    assert cafe.score(["%[coute trois euros]%"]).tolist() == [1.0]  # accents count


def test_replies_without_quotes_score_no_quote_score_and_scare_quotes_can_be_skipped():
    assert quote().score(["No quotes here.", 'An empty "" quote.']).tolist() == [0.0, 0.0]
    assert quote(no_quote_score=1.0).score(["No quotes here."]).tolist() == [1.0]
    scare = 'A "famous" tower.'
    assert quote().score([scare]).tolist() == [1.0]
    assert quote(min_words=2).score([scare]).tolist() == [0.0]


def test_sources_from_files_and_missing_or_empty_sources_are_one_line(tmp_path):
    path = tmp_path / "source.txt"
    path.write_text(CAFE, encoding="utf-8")
    detector = make_detector("quote", source_files=[str(path)])
    [verdict] = detector.check('"trois euros"')
    assert verdict.source == str(path)
    for params in ({}, {"sources": ["  \n"]}, {"source_files": [str(tmp_path / "nope.txt")]}):
        with pytest.raises(TailscopeError) as error:
            make_detector("quote", **params)
        assert "\n" not in str(error.value)


def test_the_token_table_marks_words_no_source_holds(smol_tokenizer):
    table = quote().token_scores(smol_tokenizer)
    ids = {text: smol_tokenizer.encode(text)[0] for text in (" Eiffel", " banana", '"', " ")}
    assert table[ids[" Eiffel"]] == 0.0 and table[ids[" banana"]] == 1.0
    assert np.isnan(table[ids['"']]) and np.isnan(table[ids[" "]])


# ---- the quote constraint --------------------------------------------------------------


def constrained(model: HFModel, sources=(SOURCE,), **options) -> HFModel:
    settings = QuoteConstraintOptions(sources=list(sources), **options)
    return HFModel(
        model.model,
        model.tokenizer,
        name="constrained",
        source="test",
        quote_constraint=QuoteConstraint(model.tokenizer, settings),
    )


def test_allowed_tokens_inside_a_quote_keep_it_a_substring(smol_tokenizer):
    constraint = QuoteConstraint(smol_tokenizer, QuoteConstraintOptions(sources=[SOURCE]))
    state = QuoteScanner(constraint.delimiters).feed('He said "named aft')
    allowed = constraint.allowed(state)
    assert smol_tokenizer.eos_token_id in allowed
    texts = [smol_tokenizer.decode([i]) for i in allowed if i not in constraint.special]
    assert "er" in texts and " after" not in texts
    for text in texts:
        after = QuoteScanner(constraint.delimiters).feed('He said "named aft' + text)
        assert all(q.strip() in SOURCE for q in after.finish())
    # a GopherCite quote may close in two tokens, "]" then "%", but not go on with "]"
    state = QuoteScanner(constraint.delimiters).feed("He said %[named after")
    closing = smol_tokenizer.convert_tokens_to_ids("]")
    assert closing in constraint.allowed(state)
    state.feed("]")
    percent = smol_tokenizer.convert_tokens_to_ids("%")
    allowed = set(constraint.allowed(state))
    assert percent in allowed and smol_tokenizer.encode(" the")[0] not in allowed


def test_with_the_constraint_every_sampled_quote_is_verbatim(tiny_model):
    detector = quote()
    prompts = ["Quote the document.", "What is the tower?"]
    for syntax, opener in (("all", 'It says "'), ("gophercite", "It says %[")):
        model = constrained(tiny_model, syntax=syntax)
        replies = model.generate(
            prompts, n=4, temperature=1.0, seed=0, max_new_tokens=24, reply_prefix=opener
        )
        texts = [opener + r for row in replies for r in row]
        assert detector.score(texts).tolist() == [0.0] * len(texts), texts
        assert any(len(v.quote.strip()) > 0 for t in texts for v in detector.check(t))
    free = tiny_model.generate(
        prompts, n=4, temperature=1.0, seed=0, max_new_tokens=24, reply_prefix='It says "'
    )
    assert detector.score(['It says "' + r for row in free for r in row]).max() == 1.0


def test_the_logits_processor_refuses_what_breaks_an_open_quote_and_little_outside(smol_tokenizer):
    constraint = QuoteConstraint(smol_tokenizer, QuoteConstraintOptions(sources=[SOURCE]))
    processor = constraint.processor(['"Gustave', "outside "])
    vocab = len(smol_tokenizer)
    scores = processor(torch.zeros((2, 5), dtype=torch.long), torch.zeros((2, vocab)))
    inside, outside = torch.isfinite(scores[0]), torch.isfinite(scores[1])
    assert inside[smol_tokenizer.encode(" Eiffel")[0]]
    assert not inside[smol_tokenizer.encode(" banana")[0]]
    assert outside[smol_tokenizer.encode(" banana")[0]] and outside.sum() > inside.sum()


# ---- the behavior in every method ------------------------------------------------------


def test_unsupported_quote_behavior_runs_in_search_redteam_and_elicitation(tmp_path, tiny_model):
    behavior = load_behavior("unsupported-quote")
    assert behavior.output_detector().describe() == "quote (1 source)"
    assert "%[quote]%" in behavior.system_prompt
    ref = BehaviorRef(name="unsupported-quote")
    ws = Workspace(tmp_path / "ws")
    settings = SearchSettings(max_steps=2)
    search = execute(
        ws,
        "search",
        SearchConfig(model="tiny", behaviors=[ref], settings=settings),
        0,
        models={"target": tiny_model},
    )
    [finding] = ws.units.findings(search)
    assert finding.steps == 2
    redteam = RedTeamConfig(
        model="tiny",
        behavior=ref,
        budget=4,
        batch=4,
        max_new_tokens=8,
        attacker_max_new_tokens=8,
    )
    run = execute(
        ws, "redteam", redteam, 0, models={"target": tiny_model, "attacker": ScriptedAttacker()}
    )
    cases = ws.redteam.cases(run)
    assert len(cases) == 4 and all(0.0 <= c.score <= 1.0 for c in cases)
    ws.pools.create("questions")
    ws.pools.add("questions", ["What is the tower?", "Who built it?"], "test")
    elicit = ElicitConfig(model="tiny", behavior=ref, pool="questions", k=4, max_new_tokens=8)
    run = execute(ws, "elicit", elicit, 0, models={"target": tiny_model})
    assert len(ws.elicitations.list(run)) == 2


# ---- from the command line -------------------------------------------------------------


def test_bad_quote_input_from_the_cli_is_one_line_and_exit_2(tmp_path):
    ws = tmp_path / "ws"
    spec = tmp_path / "quotes.yaml"
    spec.write_text(
        "name: quotes\noutput: {detector: {kind: quote, sources: []}}\n", encoding="utf-8"
    )
    assert_one_line_error(tailscope("behaviors", "show", str(spec), workspace=ws), "source")
    target = tmp_path / "target.yaml"
    missing = tmp_path / "missing.txt"
    options = {"quote_constraint": {"source_files": [str(missing)]}}
    target.write_text(json.dumps({"model": "smollm2-135m-instruct", "options": options}))
    result = tailscope(
        "redteam", "-m", str(target), "-b", "unsupported-quote", "--budget", "1", workspace=ws
    )
    assert_one_line_error(result, "missing.txt")
    assert not (ws / "workspace.db").exists()


@pytest.mark.slow
def test_the_real_model_quotes_verbatim_with_the_constraint(real_model):
    behavior = load_behavior("unsupported-quote")
    model = constrained(real_model, behavior.output.detector.params["sources"])
    questions = ["Who designed the Eiffel Tower?", "When was the tower built?", "Where is it?"]
    prefix = "According to the document, %["
    replies = model.generate(
        questions, max_new_tokens=40, system_prompt=behavior.system_prompt, reply_prefix=prefix
    )
    detector = behavior.output_detector()
    texts = [prefix + r for [r] in replies]
    assert detector.score(texts).tolist() == [0.0] * len(texts), json.dumps(texts)
    assert all(detector.check(t) and detector.check(t)[0].quote.strip() for t in texts), texts
