"""Serving the review app: the socket is bound first, so a port in use is one clear line and
the printed URL (token included) names the port really bound."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlencode

import uvicorn

from tailscope.errors import TailscopeError
from tailscope.review.app import ReviewSession, create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TailscopeError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port N, "
            "or --port 0 for any free one"
        ) from None
    sock.listen(64)
    return sock


def review_url(sock: socket.socket, host: str, token: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?{urlencode({'token': token})}"


def serve(session: ReviewSession, sock: socket.socket, host: str) -> None:
    """Serve until Ctrl-C. Off loopback, any Host header is answered (the token still guards
    every request)."""
    app = create_app(session, hosts=None if is_loopback(host) else ["*"])
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
