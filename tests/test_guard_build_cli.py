"""`tailscope guard data` and `guard train` from the command line: bad input is one line and
exit status 2, and nothing is recorded."""

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
