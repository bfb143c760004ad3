"""Requests to one OpenAI-compatible endpoint through the official async `openai` client.

The client runs on an event loop in a background thread, so the synchronous
`LanguageModel` interface can keep up to `concurrency` requests in flight. Results come
back to the calling thread in small batches as they complete, so the caller can commit
each answered request before the rest are done: a run killed mid-batch keeps them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import openai

from tailscope.errors import TailscopeError
from tailscope.models.endpoint.limits import Limits
from tailscope.models.endpoint.retry import MalformedReply, RetryPolicy, transient

FLUSH_S = 0.25  # how often completed results are handed back to the caller
PROBE_RETRIES = 1  # an endpoint that cannot be reached at all is said so quickly


@dataclass(frozen=True)
class Request:
    api: str  # "chat" or "completions"
    body: dict
    tokens: int  # estimated prompt + reply tokens, for the tokens/min bucket


@dataclass
class Usage:
    """What one model sent: requests (every try), retries, cache hits."""

    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    answered: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "answered": self.answered,
            "retry_reasons": dict(self.by_reason),
        }


class EndpointClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        limits: dict,
        timeout_s: float,
        policy: RetryPolicy,
        seed: int = 0,
    ):
        self.base_url = base_url
        self._secret = api_key
        self.policy = policy
        self.usage = Usage()
        self._rng = random.Random(seed)  # backoff jitter only
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True, name="endpoint").start()
        self._limits_args = limits
        self._client = self._call_soon(self._make_client(timeout_s)).result()

    async def _make_client(self, timeout_s: float) -> openai.AsyncOpenAI:
        self._limits = Limits(**self._limits_args)
        # Only the named URL: no proxies from the environment, no redirects elsewhere.
        http = httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=timeout_s)
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._secret or "no-key",
            max_retries=0,  # ours, counted
            timeout=timeout_s,
            http_client=http,
        )

    def _call_soon(self, coro) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def model_ids(self) -> list[str] | None:
        """The models the endpoint lists, or None when it has no model list (404)."""
        try:
            page = self._call_soon(self._with_retries(self._list_models, PROBE_RETRIES)).result()
        except openai.NotFoundError:
            return None
        except Exception as exc:
            raise self.fatal(exc) from None
        data = getattr(page, "data", None)
        if not isinstance(data, list):
            raise self.fatal(MalformedReply("the model list is not JSON"))
        return [str(getattr(m, "id", "")) for m in data]

    async def _list_models(self):
        return await self._client.models.list()

    def run_all(
        self, requests: Sequence[Request], on_done: Callable[[list[tuple[int, list]]], None]
    ) -> None:
        """Send every request; `on_done` gets (index, choices) pairs as they complete. A
        request that fails for good stops the rest and is raised as one line, after the
        completed ones were handed over."""
        futures = {
            self._call_soon(self._with_retries(self._sender(r), self.policy.max_retries)): i
            for i, r in enumerate(requests)
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = concurrent.futures.wait(pending, timeout=FLUSH_S)
                ok = [f for f in done if f.exception() is None]
                if ok:
                    on_done([(futures[f], f.result()) for f in ok])
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    raise self.fatal(failed[0].exception())
        finally:
            for f in pending:
                f.cancel()

    def _sender(self, request: Request):
        async def send():
            await self._limits.admit(request.tokens)
            if request.api == "chat":
                reply = await self._client.chat.completions.create(**request.body)
            else:
                reply = await self._client.completions.create(**request.body)
            return _contents(reply, request.api)

        return send

    async def _with_retries(self, send, max_retries: int):
        async with self._limits.slots:
            for attempt in range(max_retries + 1):
                self.usage.requests += 1
                try:
                    return await send()
                except Exception as exc:
                    if not transient(exc) or _tls_problem(exc) or attempt == max_retries:
                        raise
                    self.usage.retries += 1
                    reason = _reason(exc)
                    self.usage.by_reason[reason] = self.usage.by_reason.get(reason, 0) + 1
                    await asyncio.sleep(self.policy.delay(attempt, exc, self._rng))

    def fatal(self, exc: BaseException) -> TailscopeError:
        """One line for a failure the user has to fix (the key never in it)."""
        error = TailscopeError(self.redact(_explain(exc, self.base_url)))
        error.status = getattr(exc, "status_code", None)  # lets the model react to a 400
        return error

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def close(self) -> None:
        if self._loop.is_running():
            self._call_soon(self._client.close()).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)


def _contents(reply, api: str) -> list:
    """Reply texts in choice order, or the first choice's log-probabilities."""
    choices = getattr(reply, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("a reply without choices")
    choices = sorted(choices, key=lambda c: getattr(c, "index", 0) or 0)
    if api == "logprobs":
        logprobs = getattr(choices[0], "logprobs", None)
        if logprobs is None or not getattr(logprobs, "token_logprobs", None):
            raise NoLogprobs("the reply holds no prompt log-probabilities")
        return logprobs
    if api == "chat":
        texts = [getattr(getattr(c, "message", None), "content", None) for c in choices]
    else:
        texts = [getattr(c, "text", None) for c in choices]
    if any(t is not None and not isinstance(t, str) for t in texts):
        raise MalformedReply("a reply whose text is not text")
    return [t or "" for t in texts]


class NoLogprobs(Exception):
    """The endpoint answered but without prompt log-probabilities: not worth a retry."""


def _tls_problem(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, ssl.SSLError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return str(exc.status_code)
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return "connection"
    return "malformed"


def _detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        body = body.get("detail") or body.get("message") or body.get("error") or body
    text = " ".join(str(body if body is not None else exc).split())
    return text[:200]


def _explain(exc: BaseException, url: str) -> str:
    if _tls_problem(exc):
        return (
            f"TLS error talking to {url} ({_detail(exc.__cause__ or exc)}): check http:// "
            "versus https:// and the server's certificate"
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return (
            f"endpoint {url} refused the request ({exc.status_code}: {_detail(exc)}): check "
            "the API key in the environment variable named by api_key_env"
        )
    if isinstance(exc, openai.NotFoundError):
        return (
            f"endpoint {url} answered 404 ({_detail(exc)}): check the base URL (usually "
            "ending in /v1) and the model name after '#'"
        )
    if isinstance(exc, openai.APIStatusError):
        return (
            f"endpoint {url} rejected the request ({exc.status_code}: {_detail(exc)}): "
            "check the model name and the endpoint's options"
        )
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return (
            f"cannot reach endpoint {url} ({_reason(exc)}: {_detail(exc.__cause__ or exc)}): "
            "check the URL and port, and that the server is running"
        )
    return (
        f"endpoint {url} did not answer with OpenAI-compatible JSON ({_detail(exc)}): check "
        "that the URL is the API's base URL (usually ending in /v1), not a web page"
    )
