"""Bad endpoint input: one line on stderr and exit 2 each, before any run is recorded.

The unreachable, wrong-port, TLS and HTML cases talk to real sockets on loopback: a port
nobody listens on, and a plain web server that answers every path with an HTML page."""

from __future__ import annotations

import http.server
import threading

import pytest

from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.models.registry import backend, parse_model_spec, require
from tailscope.store import Workspace
from tests.cli import assert_one_line_error, tailscope
from tests.endpoint_server import free_port


class _HtmlPage(http.server.BaseHTTPRequestHandler):
    def _page(self):
        body = b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _page

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def html_site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture()
def workspace(tmp_path):
    path = tmp_path / "ws"
    with Workspace(path) as ws:
        ws.pools.create("qs")
        ws.pools.add("qs", ["Hi", "Tell me a joke."], "test")
    return path


def _elicit(spec: str, workspace, *extra: str):
    args = ["elicit", "-m", spec, "-b", "offensive-replies", "--pool", "qs", "--k", "2", *extra]
    return tailscope(*args, workspace=workspace)


def test_unreachable_endpoints_are_one_line(workspace, html_site):
    cases = [
        ("openai:http://no-such-host.invalid/v1#m", "cannot reach endpoint"),
        (f"openai:http://127.0.0.1:{free_port()}/v1#m", "check the URL and port"),
        (f"openai:https://{html_site}/v1#m", "TLS error"),
        (f"openai:http://{html_site}/v1#m", "not a web page"),
    ]
    for spec, fragment in cases:
        assert_one_line_error(_elicit(spec, workspace), fragment)
    with Workspace(workspace) as ws:
        assert ws.runs.list() == []  # nothing was recorded


def test_a_missing_key_variable_is_one_line_and_the_key_is_never_printed(
    tmp_path, workspace, monkeypatch
):
    target = tmp_path / "target.yaml"
    target.write_text(
        "model: openai:http://127.0.0.1:9/v1#m\noptions: {api_key_env: TAILSCOPE_TEST_KEY}\n"
    )
    monkeypatch.delenv("TAILSCOPE_TEST_KEY", raising=False)
    assert_one_line_error(_elicit(str(target), workspace), "TAILSCOPE_TEST_KEY", "not set")
    written = tmp_path / "written.yaml"
    written.write_text("model: openai:http://127.0.0.1:9/v1#m\noptions: {api_key: sk-secret-1}\n")
    result = _elicit(str(written), workspace)
    assert_one_line_error(result, "environment variable", "api_key_env")
    assert "sk-secret-1" not in result.stderr + result.stdout


def test_white_box_search_and_exact_scoring_on_an_endpoint_are_refused(workspace):
    spec = "openai:http://127.0.0.1:9/v1#m"
    result = tailscope("search", "-m", spec, "-b", "say", "-p", "target=hi", workspace=workspace)
    assert_one_line_error(result, "white-box access", "openai backend")
    exact = tailscope(
        "elicit", "-m", spec, "--method", "exact", "-b", "say", "-p", "target=hi",
        "--pool", "qs", workspace=workspace,
    )  # fmt: skip
    assert_one_line_error(exact, "log-probabilities", "openai backend")


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("openai:http://127.0.0.1:8000/v1", "names no model"),
        ("openai:http://127.0.0.1:8000/v1#", "names no model"),
        ("openai:ftp://127.0.0.1/v1#m", "not an http(s) URL"),
        ("openai:127.0.0.1:8000/v1#m", "not an http(s) URL"),
        ("openai:http://user:sk-x@127.0.0.1/v1#m", "holds no credentials"),
        ("openai:http://127.0.0.1/v1?key=sk-x#m", "holds no credentials"),
    ],
)
def test_malformed_specs_are_refused_before_anything_loads(spec, fragment):
    with pytest.raises(TailscopeError) as caught:
        require(spec, [Capability.GENERATE], "a test")
    assert fragment in str(caught.value) and "sk-x" not in str(caught.value)


def test_a_completions_endpoint_with_logprobs_declares_them():
    spec = parse_model_spec("openai:http://127.0.0.1:8000/v1#m")
    assert spec.backend == "openai" and spec.options == {}
    plain = backend("openai").capabilities_of(spec)
    scoring = spec.model_copy(update={"options": {"api": "completions", "logprobs": True}})
    assert plain == {Capability.GENERATE}
    assert backend("openai").capabilities_of(scoring) == {Capability.GENERATE, Capability.LOGPROB}
