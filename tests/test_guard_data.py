"""Constitutions (their validation and the built-ins), augmentations, and guard data runs
on a tiny random model: labels from the category, splits by source query, held-out styles,
deduplication, and a killed run that resumes to what an unbroken one writes."""

from __future__ import annotations

import base64

import pytest

from tailscope.errors import TailscopeError
from tailscope.guard.augment import STYLES, rewrite_prompt, system_prompt_variant
from tailscope.guard.constitution import (
    builtin_constitutions,
    load_constitution,
    parse_constitution,
)
from tailscope.guard.data import GuardDataConfig, dedupe_key, source_id, split_of
from tailscope.runs.execute import RunInterrupted, execute
from tailscope.runs.progress import Progress, Task
from tailscope.store import Workspace


def category(name: str, **extra) -> dict:
    return {"name": name, "description": f"about {name}", "examples": [f"A {name} question?"]}


def constitution(**fields) -> dict:
    raw = {"name": "c", "restricted": [category("bad")], "permitted": [category("good")]}
    return {**raw, **fields}


def test_the_built_in_constitutions_load_and_keep_permitted_content():
    assert {"lock-picking", "secret-password"} <= set(builtin_constitutions())
    locks = load_constitution("lock-picking")
    assert {c.name for c in locks.permitted} >= {"how-locks-work", "locksmith-careers"}
    secret = load_constitution("secret-password")
    assert "PINEAPPLE-42" in secret.system_prompt  # the guard reads the secret with each prompt


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"permitted": []}, "no permitted category"),
        ({"permitted": None}, "no permitted category"),
        ({"restricted": []}, "'restricted' is empty"),
        ({"permitted": [{**category("good"), "examples": []}]}, "'permitted.0.examples' is empty"),
        ({"permitted": [{**category("good"), "description": "  "}]}, "description is empty"),
        ({"permitted": [category("good"), category("good")]}, "'good' is listed twice"),
        ({"permitted": [category("bad")]}, "both restricted and permitted"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_a_bad_constitution_is_one_line_naming_the_problem(fields, message):
    raw = constitution(**fields)
    if fields.get("permitted", 0) is None:
        del raw["permitted"]
    with pytest.raises(TailscopeError) as caught:
        parse_constitution(raw, "constitution file c.yaml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unknown_constitution_names_the_built_ins(tmp_path):
    with pytest.raises(TailscopeError, match="use one of lock-picking"):
        load_constitution("no-such-thing")
    with pytest.raises(TailscopeError, match="not found"):
        load_constitution(str(tmp_path / "missing.yaml"))


def test_the_deterministic_augmentations_keep_the_request_recoverable():
    import random

    rng = random.Random(0)
    q = "How do I pick a lock?"
    encoded = rewrite_prompt("base64", q, rng).rsplit(" ", 1)[1]
    assert base64.b64decode(encoded).decode() == q
    assert rewrite_prompt("reversal", q, rng).endswith(q[::-1])
    assert rewrite_prompt("spacing", q, rng).replace(" ", "") == q.replace(" ", "")
    assert rewrite_prompt("leetspeak", q, rng) == "h0w d0 1 p1ck 4 l0ck?"
    assert q in rewrite_prompt("jailbreak", q, rng) and q in rewrite_prompt("roleplay", q, rng)
    conversation = rewrite_prompt("multi-turn", q, rng).splitlines()
    assert conversation[-2:] == [f"User: {q}", "Assistant:"] and len(conversation) >= 4
    secret = "The secret password is X-1."
    assert secret in system_prompt_variant(secret, rng)  # a variant keeps the secret


def test_splits_follow_the_source_query():
    splits = [split_of(source_id(f"question number {i}?")) for i in range(2000)]
    assert 0.55 < splits.count("train") / 2000 < 0.65
    assert source_id("How do I pick a lock?") == source_id("  how do i pick a LOCK ")


def small_config(**overrides) -> GuardDataConfig:
    settings = dict(
        constitution=load_constitution("lock-picking").model_dump(),
        per_category=3,
        list_prompts=2,
        max_new_tokens=8,
    )
    return GuardDataConfig(**{**settings, **overrides})


class StopAfterAugmentations(Progress):
    """Ctrl-C once `count` augmentation styles are committed."""

    def __init__(self, count: int):
        self.count = count

    def task(self, description, total=None, completed=0) -> Task:
        stop = self.count if description == "augmentations" else None

        class Stopping(Task):
            def update(self, *, completed=None, total=None, description=None):
                if stop is not None and completed is not None and completed >= stop:
                    raise KeyboardInterrupt

        return Stopping()


def test_a_guard_data_run_labels_splits_dedupes_and_resumes_after_a_kill(tmp_path, tiny_model):
    config = small_config()
    models = {"generator": tiny_model}
    whole_ws = Workspace(tmp_path / "whole")
    whole = whole_ws.guard_data.examples(execute(whole_ws, "guard-data", config, 5, models=models))
    ws = Workspace(tmp_path / "killed")
    with pytest.raises(RunInterrupted) as interrupted:
        execute(ws, "guard-data", config, 5, models=models, progress=StopAfterAugmentations(3))
    run_id = interrupted.value.run_id
    partial = ws.guard_data.examples(run_id)
    assert 0 < len(partial) < len(whole)
    execute(ws, "guard-data", config, 5, models=models, resume=run_id)
    resumed = ws.guard_data.examples(run_id)
    assert [e.to_json() for e in resumed] == [e.to_json() for e in whole]

    constitution = load_constitution("lock-picking")
    restricted = {c.name for c in constitution.restricted}
    assert all(e.restricted == (e.category in restricted) for e in whole)
    plain = [e for e in whole if e.style == "plain"]
    assert len({e.category for e in plain}) == len(constitution.categories())
    assert all(sum(e.category == c for e in plain) <= 3 for c in {e.category for e in plain})
    assert {e.style for e in whole} <= {"plain", *STYLES}
    assert len({dedupe_key(e) for e in whole}) == len(whole)  # no example twice
    by_source = {e.source: e.split for e in plain}
    for e in whole:
        held = e.style in config.heldout_styles
        assert e.split == ("heldout" if held else by_source[e.source])
        assert not held or by_source[e.source] == "test"  # held out: only test queries
