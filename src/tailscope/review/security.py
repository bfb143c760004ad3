"""What keeps the review app private on a shared machine: a random token on every request, a
CSRF token on every POST, and headers that make model text inert in the browser."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

TOKEN_PARAM = "token"
TOKEN_HEADER = "x-review-token"
CSRF_HEADER = "x-csrf-token"

# Model replies are untrusted: nothing inline runs, scripts and styles come only from the
# app, nothing can frame it, and forms post only back to it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",  # the token is in the URL
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class Secrets:
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))


def _matches(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


class Guard(BaseHTTPMiddleware):
    """Refuses a request without the token (403) and a POST without the CSRF token or from
    another origin (403); adds the security headers to every response."""

    def __init__(self, app, keys: Secrets):
        super().__init__(app)
        self.keys = keys

    async def dispatch(self, request: Request, call_next) -> Response:
        response = self._refusal(request) or await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _refusal(self, request: Request) -> Response | None:
        token = request.query_params.get(TOKEN_PARAM) or request.headers.get(TOKEN_HEADER)
        if not _matches(token, self.keys.token):
            return PlainTextResponse(
                "forbidden: open the URL `tailscope review` printed (it holds the token)", 403
            )
        if request.method == "POST":
            if not _matches(request.headers.get(CSRF_HEADER), self.keys.csrf):
                return PlainTextResponse("forbidden: missing or wrong CSRF token", 403)
            origin = request.headers.get("origin")
            if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
                return PlainTextResponse("forbidden: cross-origin request", 403)
        return None
