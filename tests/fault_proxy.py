"""A fault-injecting HTTP proxy on loopback, in front of the real OpenAI-compatible server.

The real server cannot be made to rate-limit, fail, stall, cut a reply short or reset a
connection on demand, so this proxy does it, on the requests it is told to, and passes
everything else through unchanged. It also counts what it forwarded, so a test can tell
how often each request body was sent (duplicates, re-asked requests)."""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import socket
import struct
import threading
import time
from collections import Counter

FAULTS = ("429", "500", "timeout", "truncate", "reset", "401")


class FaultProxy:
    def __init__(self, upstream_port: int, stall_s: float = 5.0):
        self.upstream_port = upstream_port
        self.stall_s = stall_s  # a "timeout" holds the request this long, then drops it
        self.faults: list[str] = []  # injected into the next completion requests, in order
        self.injected: Counter[str] = Counter()
        self.forwarded: list[str] = []  # body hashes of completion requests answered upstream
        self.hold_from: int | None = None  # completion requests past this many are held
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._seen = 0
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def inject(self, *faults: str) -> None:
        assert all(f in FAULTS for f in faults), faults
        with self._lock:
            self.faults.extend(faults)

    def hold_after(self, count: int) -> None:
        """Hold every completion request after the first `count` until `release()`, which
        drops them unanswered: a client killed meanwhile has exactly `count` answers."""
        self.hold_from = count
        self._released.clear()

    def release(self) -> None:
        self.hold_from = None
        self._released.set()

    def sent_twice(self) -> list[str]:
        return [body for body, n in Counter(self.forwarded).items() if n > 1]

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> tuple[str | None, bool]:
        """(fault to inject, hold) for a new completion request."""
        with self._lock:
            self._seen += 1
            held = self.hold_from is not None and self._seen > self.hold_from
            fault = None if held or not self.faults else self.faults.pop(0)
            if fault:
                self.injected[fault] += 1
            return fault, held

    def _handler(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self._forward(b"")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault, held = proxy._next()
                if held:
                    proxy._released.wait()
                    return self._drop()
                if fault is None:
                    return self._forward(body, record=True)
                getattr(self, f"_fault_{fault}")(body)

            def _forward(self, body: bytes, record: bool = False):
                status, headers, payload = _upstream(proxy.upstream_port, self, body)
                if record:
                    with proxy._lock:
                        proxy.forwarded.append(hashlib.sha256(body).hexdigest())
                self._reply(status, payload, headers.get("Content-Type", "application/json"))

            def _reply(self, status: int, payload: bytes, kind: str, extra: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, status: int, message: str, extra: dict | None = None):
                body = json.dumps({"error": {"message": message}}).encode()
                self._reply(status, body, "application/json", extra)

            def _fault_429(self, body):
                self._error(429, "rate limited", {"Retry-After": "1"})

            def _fault_401(self, body):
                # as OpenAI's API does, the message quotes the key it was given
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                self._error(401, f"Incorrect API key provided: {key}")

            def _fault_500(self, body):
                self._error(500, "internal error")

            def _fault_timeout(self, body):
                time.sleep(proxy.stall_s)
                self._drop()

            def _fault_truncate(self, body):
                status, headers, payload = _upstream(proxy.upstream_port, self, body)
                self._reply(status, payload[: len(payload) // 2], "application/json")

            def _fault_reset(self, body):
                # SO_LINGER 0: close() sends a TCP reset instead of an orderly FIN
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self._drop()

            def _drop(self):
                self.close_connection = True
                self.connection.close()

            def log_message(self, *args):
                pass

        return Handler


def _upstream(port: int, request, body: bytes) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        conn.request(request.command, request.path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()
