"""Property-based fuzzing of what users hand the CLI: behavior specs, numeric and path
options, pool and probability files. Whatever the input, a command ends with exit 0, or
exit 2 and one line on stderr; never a traceback, and a rejected command creates no
workspace. Runs in-process, so a few hundred examples take seconds.

`TAILSCOPE_FUZZ_EXAMPLES=500` explores more; the default is derandomized, so CI sees the
same inputs every time and a failure reproduces."""

from __future__ import annotations

import io
import os
import string
import sys
from contextlib import redirect_stderr, redirect_stdout
from itertools import count
from pathlib import Path
from unittest import mock

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailscope.behaviors.spec import Behavior, load_behavior
from tailscope.cli.main import main
from tailscope.errors import TailscopeError

FUZZ = settings(
    max_examples=int(os.environ.get("TAILSCOPE_FUZZ_EXAMPLES", "30")),
    derandomize="TAILSCOPE_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,  # a loaded machine is slow, not wrong
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_fresh = count()


def invoke(*args: str, workspace: Path) -> tuple[int, str, str]:
    """`tailscope -w WORKSPACE ARGS` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["tailscope", "--workspace", str(workspace), *args]
    code = 0
    with mock.patch.object(sys, "argv", argv), redirect_stdout(out), redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def assert_clean_ending(code: int, stderr: str, workspace: Path) -> None:
    assert "Traceback" not in stderr, stderr
    assert code in (0, 2), (code, stderr)
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert not workspace.exists(), "a rejected command created the workspace"


# ---- behavior specs ---------------------------------------------------------------------

FIELDS = list(Behavior.model_fields) + ["target", "detector", "kind", "min", "max", "a"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["{target}", "{nope}", "say", "toxicity", "language", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
specs = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


def _spec_texts() -> st.SearchStrategy[bytes]:
    dumped = specs.map(lambda s: yaml.safe_dump(s, allow_unicode=True).encode())
    with_output = specs.map(
        lambda s: yaml.safe_dump({"name": "f", "output": {"target": "hi"}, **s}).encode()
    )
    aliased = st.integers(1, 6).map(
        lambda n: ("a: &x [1, 2]\n" + "".join(f"b{i}: *x\n" for i in range(n))).encode()
    )
    encoded = st.text(max_size=200).flatmap(
        lambda t: st.sampled_from([t.encode("utf-8"), t.encode("utf-16"), t.encode("utf-8-sig")])
    )
    return st.one_of(dumped, with_output, aliased, encoded, st.binary(max_size=300))


@FUZZ
@given(text=_spec_texts(), params=st.dictionaries(st.sampled_from(["target", "x"]), st.text()))
def test_any_behavior_file_loads_or_is_one_clear_error(tmp_path, text, params):
    path = tmp_path / f"spec{next(_fresh)}.yaml"
    path.write_bytes(text)
    try:
        behavior = load_behavior(str(path), params)
    except TailscopeError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        assert isinstance(behavior, Behavior) and behavior.name


@FUZZ
@given(text=_spec_texts())
def test_behaviors_show_ends_cleanly_on_any_file(tmp_path, text):
    path = tmp_path / f"spec{next(_fresh)}.yaml"
    path.write_bytes(text)
    workspace = tmp_path / f"ws{next(_fresh)}"
    code, _, err = invoke("behaviors", "show", str(path), workspace=workspace)
    assert_clean_ending(code, err, workspace)


# ---- numeric and path options -----------------------------------------------------------

numbers = st.one_of(
    st.integers(-(10**15), 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1e400", "nan", "-inf", "", "1_0", "0x10", "Ⅻ", "1.5"]),
)
OPTIONS = {
    "search": ["--steps", "--seconds", "--restarts", "--prompt-length", "--output-length",
               "--lam-perp", "--unigram-weight", "--mellowmax-alpha"],
    "elicit": ["--k", "--temperature", "--max-new-tokens", "--limit", "--chunk",
               "--confidence", "--threshold"],
    "redteam": ["--budget", "--batch", "--max-new-tokens"],
}  # fmt: skip
BASE = {
    "search": ["-b", "say", "-p", "target=hi"],
    "elicit": ["-b", "say", "-p", "target=hi", "--pool", "p"],
    "redteam": ["-b", "offensive-replies"],
}
paths = st.sampled_from(["", ".", "/", "nowhere/x", "a" * 300, "x\x00y", "~", "hf:", "gguf:x"])


@FUZZ
@given(
    command=st.sampled_from(sorted(OPTIONS)),
    data=st.data(),
    model=paths.map(lambda p: f"hf:{p}"),
)
def test_numeric_and_path_options_end_cleanly(tmp_path, command, data, model):
    chosen = data.draw(st.lists(st.sampled_from(OPTIONS[command]), min_size=1, max_size=3))
    args = [command, *BASE[command], "-m", model]
    for option in chosen:
        args += [option, data.draw(numbers)]
    workspace = tmp_path / f"ws{next(_fresh)}"
    code, _, err = invoke(*args, workspace=workspace)
    assert code == 2  # the model is nowhere, so nothing may run
    assert_clean_ending(code, err, workspace)


@FUZZ
@given(workspace=paths)
def test_any_workspace_path_ends_cleanly(tmp_path, workspace):
    if "\x00" in workspace or workspace.startswith("/") or workspace.startswith("~"):
        workspace = f"ws{next(_fresh)}-{workspace.strip('/~')}"
    target = tmp_path / workspace
    code, _, err = invoke("runs", workspace=target)
    assert "Traceback" not in err and code in (0, 2), err


# ---- pool and probability files ---------------------------------------------------------

cells = st.one_of(
    st.text(string.printable, max_size=30),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "1", "0.5", "-1", "2", "nan", "", '"', "\ufeff", "query", "p"]),
)
rows = st.lists(st.lists(cells, min_size=1, max_size=4), max_size=12)


def _table(header: list[str], body: list[list[str]], suffix: str) -> bytes:
    if suffix == ".csv":
        lines = [",".join(header), *(",".join(r) for r in body)]
    elif suffix == ".jsonl":
        import json

        lines = [json.dumps(dict(zip(header, r, strict=False))) for r in body]
    else:
        lines = [" ".join(r) for r in body]
    return "\n".join(lines).encode()


tables = st.tuples(
    st.lists(st.sampled_from(["query", "p", "hits", "k", "low", "x"]), min_size=1, max_size=4),
    rows,
    st.sampled_from([".csv", ".jsonl", ".txt"]),
)


@FUZZ
@given(table=tables, raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_any_pool_file_imports_or_is_one_clear_error(tmp_path, table, raw):
    header, body, suffix = table
    path = tmp_path / f"pool{next(_fresh)}{suffix}"
    path.write_bytes(raw if raw is not None else _table(header, body, suffix))
    workspace = tmp_path / f"ws{next(_fresh)}"
    code, out, err = invoke("queries", "import", str(path), "--pool", "p", workspace=workspace)
    assert_clean_ending(code, err, workspace)


@FUZZ
@given(table=tables.filter(lambda t: t[2] != ".txt"))
def test_any_probability_file_forecasts_or_is_one_clear_error(tmp_path, table, monkeypatch):
    monkeypatch.chdir(tmp_path)
    header, body, suffix = table
    path = tmp_path / f"p{next(_fresh)}{suffix}"
    path.write_bytes(_table(header, body, suffix))
    workspace = tmp_path / f"ws{next(_fresh)}"
    code, out, err = invoke(
        "forecast", str(path), "--bootstrap", "20", "--json", workspace=workspace
    )
    assert "Traceback" not in err and code in (0, 2), (code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
