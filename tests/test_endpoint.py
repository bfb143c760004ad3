"""The `openai` backend against the real `transformers serve` on loopback: replies equal the
in-process model's, samples fall back to one request each, and the workspace cache answers
what was asked before."""

from __future__ import annotations

import pytest

from tailscope.models.registry import load_model
from tailscope.store import Workspace
from tests.cli import assert_one_line_error, tailscope
from tests.endpoint_server import ModelServer

pytestmark = pytest.mark.slow
PROMPTS = ["What is the capital of France?", "Tell me a joke.", "Hi"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = ModelServer(tmp_path_factory.mktemp("endpoint"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def endpoint(server):
    return load_model(server.spec())


@pytest.mark.parametrize("system_prompt", [None, "You are a pirate."])
def test_greedy_replies_equal_the_in_process_model(endpoint, real_model, system_prompt):
    """Same model, same chat template on both sides: greedy replies are identical."""
    settings = {"max_new_tokens": 20, "system_prompt": system_prompt}
    assert endpoint.generate(PROMPTS, **settings) == real_model.generate(PROMPTS, **settings)


def test_samples_fall_back_to_one_request_each_and_differ(server):
    model = load_model(server.spec())
    replies = model.generate(["Hi", "Hi"], n=3, temperature=1.0, max_new_tokens=12, seed=1)
    assert [len(r) for r in replies] == [3, 3]
    # transformers serve answers n with one choice: the backend asked the rest one by one
    assert model.n_per_request is False
    assert len({text for group in replies for text in group}) >= 4  # distinct samples
    assert model.usage()["answered"] == 6


def test_the_workspace_cache_answers_a_repeated_call_without_requests(server, tmp_path):
    with Workspace(tmp_path / "ws") as ws:
        first = load_model(server.spec())
        first.attach_cache(ws.responses)
        asked = first.generate(PROMPTS, n=2, temperature=1.0, max_new_tokens=8, seed=3)
        assert ws.responses.count() == 6
        again = load_model(server.spec())  # a new process would load anew, too
        again.attach_cache(ws.responses)
        before = again.usage()["requests"]
        assert again.generate(PROMPTS, n=2, temperature=1.0, max_new_tokens=8, seed=3) == asked
        assert again.usage()["requests"] == before
        assert again.usage()["cache_hits"] == 6
        # an extended call asks only for what is new: the third sample of each prompt
        more = again.generate(PROMPTS, n=3, temperature=1.0, max_new_tokens=8, seed=3)
        assert [r[:2] for r in more] == asked
        assert again.usage()["answered"] == 3


def test_a_model_the_endpoint_does_not_serve_is_one_line(server, tmp_path):
    spec = f"openai:{server.url}#no-such-model"
    result = tailscope("redteam", "-m", spec, "-b", "offensive-replies", workspace=tmp_path)
    assert_one_line_error(result, "serves no model 'no-such-model'", server.model)
