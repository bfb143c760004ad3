"""Running the real `tailscope` command in a subprocess, as a user does, and checking it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def tailscope(*args: str, workspace: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `tailscope ARGS` to the end. No timeout: a loaded machine is slow, not wrong."""
    env = {**os.environ, "TAILSCOPE_WORKSPACE": str(workspace)}
    return subprocess.run(
        [sys.executable, "-m", "tailscope", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def start(*args: str, workspace: Path) -> subprocess.Popen:
    env = {**os.environ, "TAILSCOPE_WORKSPACE": str(workspace)}
    return subprocess.Popen(
        [sys.executable, "-m", "tailscope", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], sig: int = signal.SIGKILL) -> None:
    """Send `sig` (SIGKILL) to `proc` as soon as `ready()` holds; however slow the machine,
    the kill comes at the same point of the run. Fails if the run ends before it gets there."""
    while not ready():
        assert proc.poll() is None, "the run ended before the point where it was to be killed"
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait()


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
