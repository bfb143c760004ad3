"""The real OpenAI-compatible server for the endpoint tests: `transformers serve` on the
converted default model, on a free loopback port, started once per test module.

The served directory is the converted model with one change, in its generation config:
sampling on (do_sample, no top-k or top-p), because `transformers serve` only samples
when the model's own config says so and otherwise ignores `temperature`; the in-process
model samples the same way. Greedy requests (temperature 0) are greedy either way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tailscope.models.registry import local_model_dir

STARTUP_S = 300.0  # a loaded 2-core machine is slow, not wrong


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served_model_dir(into: Path) -> Path:
    """The converted default model, linked file by file, with sampling in its config."""
    source = local_model_dir()
    into.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name != "generation_config.json":
            (into / item.name).symlink_to(item)
    config = json.loads((source / "generation_config.json").read_text())
    config.update(do_sample=True, top_k=0, top_p=1.0)
    (into / "generation_config.json").write_text(json.dumps(config))
    return into


class ModelServer:
    """`transformers serve MODEL_DIR` on 127.0.0.1; `url` is its base URL (…/v1)."""

    def __init__(self, workdir: Path):
        self.model_dir = served_model_dir(workdir / "served-model")
        self.model = str(self.model_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = (workdir / "serve.log").open("w")
        serve = Path(sys.executable).with_name("transformers")
        self.proc = subprocess.Popen(
            [
                str(serve),
                "serve",
                self.model,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--device",
                "cpu",
                "--dtype",
                "float32",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"},
            start_new_session=True,
        )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"transformers serve exited: {self.log.name}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.25)
        raise AssertionError(f"transformers serve did not start in {STARTUP_S} s")

    def spec(self, url: str | None = None) -> str:
        return f"openai:{url or self.url}#{self.model}"

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.model_dir, ignore_errors=True)
