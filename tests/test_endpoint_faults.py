"""Faults between the `openai` backend and the real `transformers serve`, injected by the
tests' own proxy in front of it: 429 with Retry-After, 500, a stalled request, a reply cut
short, a reset connection. Every answered request survives, none is asked twice, every
retry is counted, errors are never cached, and a killed run resumes from the cache
without asking again what was answered."""

from __future__ import annotations

import json

import pytest

from tailscope.errors import TailscopeError
from tailscope.models.registry import load_model
from tailscope.store import Workspace
from tests.cli import kill_when, start, tailscope
from tests.endpoint_server import ModelServer
from tests.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow
PROMPTS = [f"Name a {thing}." for thing in ("color", "fruit", "city", "tree", "bird", "river")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = ModelServer(tmp_path_factory.mktemp("endpoint"))
    yield started
    started.stop()


@pytest.fixture()
def proxy(server):
    started = FaultProxy(server.port, stall_s=6.0)
    yield started
    started.close()


def _target(tmp_path, server, url: str, **options) -> str:
    settings = {"concurrency": 4, "timeout_s": 4, **options}
    path = tmp_path / "target.yaml"
    path.write_text(json.dumps({"model": server.spec(url), "options": settings}))
    return str(path)


def test_every_fault_is_retried_counted_and_leaves_the_replies_unchanged(tmp_path, server, proxy):
    expected = load_model(server.spec()).generate(PROMPTS, max_new_tokens=8)
    model = load_model(_target(tmp_path, server, proxy.url))
    proxy.inject("429", "500", "timeout", "truncate", "reset")
    with Workspace(tmp_path / "ws") as ws:
        model.attach_cache(ws.responses)
        assert model.generate(PROMPTS, max_new_tokens=8) == expected
        assert ws.responses.count() == len(PROMPTS)
    assert sum(proxy.injected.values()) == 5
    usage = model.usage()
    assert usage["retries"] >= 5 and usage["answered"] == len(PROMPTS)
    reasons = usage["retry_reasons"]  # a slow machine may time out more, never less
    assert reasons["429"] == reasons["500"] == 1
    assert reasons["timeout"] >= 1 and reasons["malformed"] >= 1 and reasons["connection"] >= 1
    assert proxy.sent_twice() == []  # each prompt answered upstream once


def test_a_request_that_keeps_failing_is_one_line_and_nothing_of_it_is_cached(
    tmp_path, server, proxy
):
    model = load_model(_target(tmp_path, server, proxy.url, max_retries=1, concurrency=1))
    proxy.inject("500", "500")
    with Workspace(tmp_path / "ws") as ws:
        model.attach_cache(ws.responses)
        with pytest.raises(TailscopeError, match="500"):
            model.generate(PROMPTS[:1], max_new_tokens=8)
        assert ws.responses.count() == 0  # the error was not cached
        assert model.generate(PROMPTS[:1], max_new_tokens=8)[0][0]  # asked again, answered
        assert ws.responses.count() == 1


def test_a_refused_key_stops_at_once_with_one_line_that_never_shows_the_key(
    tmp_path, server, proxy, monkeypatch
):
    monkeypatch.setenv("TAILSCOPE_TEST_KEY", "sk-test-a1b2c3")
    model = load_model(_target(tmp_path, server, proxy.url, api_key_env="TAILSCOPE_TEST_KEY"))
    assert "sk-test" not in json.dumps(model.identity())
    proxy.inject("401")
    with pytest.raises(TailscopeError) as caught:
        model.generate(PROMPTS[:1], max_new_tokens=8)
    message = str(caught.value)
    assert "401" in message and "api_key_env" in message and "***" in message
    assert "sk-test" not in message and model.usage()["retries"] == 0


def _elicit_args(target: str) -> list[str]:
    return [
        "elicit", "-m", target, "-b", "offensive-replies", "--pool", "qs", "--k", "4",
        "--max-new-tokens", "8", "--chunk", "2", "--seed", "5", "--json",
    ]  # fmt: skip


def test_a_killed_elicitation_resumes_from_the_cache_without_asking_again(tmp_path, server, proxy):
    ws_dir = tmp_path / "ws"
    with Workspace(ws_dir) as ws:
        ws.pools.create("qs")
        ws.pools.add("qs", PROMPTS, "test")
    target = _target(tmp_path, server, proxy.url, concurrency=2)
    total = len(PROMPTS) * 4
    proxy.hold_after(10)  # chunk 1 (8 samples) committed, 2 samples of chunk 2 answered
    run = start(*_elicit_args(target), workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        kill_when(run, lambda: ws.responses.count() == 10)
        (run_id,) = [r.id for r in ws.runs.list()]
        kept = {e.query_idx: e for e in ws.elicitations.list(run_id)}
        assert sorted(kept) == [0, 1]  # the completed unit survived the kill
    proxy.release()
    asked_before = len(proxy.forwarded)
    result = tailscope("elicit", "--resume", run_id, "--json", workspace=ws_dir)
    assert result.returncode == 0, result.stderr
    resumed = proxy.forwarded[asked_before:]
    assert len(resumed) == total - 10  # every answered sample came from the cache
    assert proxy.sent_twice() == []
    with Workspace(ws_dir) as ws:
        final = {e.query_idx: e for e in ws.elicitations.list(run_id)}
        assert sorted(final) == list(range(len(PROMPTS))) and all(e.k == 4 for e in final.values())
        assert all(final[i] == kept[i] for i in kept)  # unchanged by the resume
        assert ws.responses.count() == total
        usage = ws.responses.usage(run_id)["target"]
        assert usage["cache_hits"] == 2 and usage["answered"] == total - 10
