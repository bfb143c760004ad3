"""`tailscope guard data` and `guard train` from the command line, and a guarded-target file
given as a model: bad input is one line and exit status 2, and nothing is recorded."""

from __future__ import annotations

from .cli import tailscope


def test_guard_data_and_train_refuse_bad_input_in_one_line_with_exit_2(tmp_path):
    ws = tmp_path / "ws"
    path = tmp_path / "only-restricted.yaml"
    path.write_text("name: x\nrestricted:\n  - {name: a, description: b, examples: [c]}\n")
    cases = [
        (["guard", "data", "-c", str(path)], "no permitted category"),
        (["guard", "data", "-c", "no-such-constitution"], "use one of lock-picking"),
        (["guard", "data", "-c", "lock-picking", "--style", "morse"], "unknown augmentation"),
        (["guard", "train", "--data", "r-x", "--fp-budget", "1.5"], "outside [0, 1)"),
        (["guard", "train", "--data", "r-missing"], "r-missing"),
    ]
    for args, message in cases:
        done = tailscope(*args, workspace=ws)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not ws.exists()  # nothing was recorded


def test_a_probe_guard_around_an_endpoint_target_is_one_line_before_anything_loads(tmp_path):
    """An activation probe needs the target's hidden states; an endpoint has none. Port 9 is
    closed: the refusal comes from the file, before any connection or artifact is tried."""
    ws = tmp_path / "ws"
    path = tmp_path / "guarded-endpoint.yaml"
    path.write_text(
        "target: openai:http://127.0.0.1:9/v1#smollm2\n"
        "guards:\n  - {kind: activation-probe, artifact: no-such-artifact}\n"
    )
    for spec in (f"guarded:{path}", str(path)):
        args = ["redteam", "-m", spec, "-b", "offensive-replies", "--budget", "4"]
        done = tailscope(*args, workspace=ws)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "black-box" in lines[0], done.stderr
        assert "activation-probe" in lines[0] and "no-such-artifact" not in lines[0]
    assert not ws.exists()  # refused before a workspace was opened
