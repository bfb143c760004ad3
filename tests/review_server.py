"""The real `tailscope review` on loopback, started as a user starts it, for the review tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse


class ReviewServer:
    def __init__(self, workspace: Path, *args: str):
        env = {**os.environ, "TAILSCOPE_WORKSPACE": str(workspace), "USER": "tester"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tailscope", "review", "--no-browser", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = self.proc.stdout.readline()  # blocks until the socket is bound
        match = re.search(r"http://\S+", line)
        assert match, f"no URL printed: {line!r} {self.proc.stderr.read() if not line else ''}"
        self.url = match[0]
        parts = urlparse(self.url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.token = parse_qs(parts.query)["token"][0]

    def page_url(self, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"token": self.token, **params}.items())
        return f"{self.base}/?{query}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)  # a graceful stop; a hung one must not hang the suite
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(url: str, data: bytes | None = None, headers: dict | None = None):
    """(status, body) of one HTTP request; an error status is an answer, not an exception."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
