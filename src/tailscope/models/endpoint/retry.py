"""Which failed requests are tried again, and after how long.

Transient failures (408, 409, 429, 5xx, timeouts, dropped or reset connections, a reply
cut off before its JSON ended) are retried with exponential backoff and full jitter, or
after the server's `Retry-After` when it names one. Everything else (401, 403, 404, other
4xx) is the user's to fix and stops the run with one line."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import httpx
import openai

RETRY_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER_S = 120.0  # a longer Retry-After is still honored, in steps, by later tries


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_s: float = 0.5
    cap_s: float = 20.0

    def delay(self, attempt: int, error: BaseException, rng: random.Random) -> float:
        """Seconds to wait before try `attempt + 1` (attempt counts from 0)."""
        after = retry_after(error)
        if after is not None:
            return min(after, MAX_RETRY_AFTER_S)
        return rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


def transient(error: BaseException) -> bool:
    """True for a failure that a later try of the same request may not meet."""
    if isinstance(error, openai.APIStatusError):
        return error.status_code in RETRY_STATUSES or error.status_code >= 500
    return isinstance(
        error,
        openai.APIConnectionError  # timeouts, refused, reset and dropped connections
        | openai.APIResponseValidationError  # a body that is not the JSON announced
        | json.JSONDecodeError
        | httpx.TransportError
        | MalformedReply,
    )


def retry_after(error: BaseException) -> float | None:
    """The server's Retry-After (seconds, or an HTTP date is ignored), if any."""
    response = getattr(error, "response", None)
    if response is None:
        return None
    for header in ("retry-after-ms", "retry-after"):
        value = response.headers.get(header)
        try:
            seconds = float(value) / (1000 if header.endswith("-ms") else 1)
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return seconds
    return None


class MalformedReply(Exception):
    """A 200 reply without what a completion must hold (choices, text)."""
