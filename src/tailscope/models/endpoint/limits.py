"""Pacing requests: a concurrency limit and token buckets on requests and tokens per minute."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`per_minute` units refill continuously up to a burst of one minute's worth; `take`
    waits until the units are there. A request larger than the burst waits for a full
    bucket and then takes it all, so no request is refused for its size."""

    def __init__(self, per_minute: float, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.clock = clock
        self.stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` units (at most a full bucket) are there; 0 if they are."""
        self._refill()
        missing = min(amount, self.capacity) - self.level
        return max(0.0, missing / self.rate)

    async def take(self, amount: float) -> None:
        async with self._lock:  # first come, first served
            while (delay := self.wait_for(amount)) > 0:
                await asyncio.sleep(delay)
            self.level -= min(amount, self.capacity)


class Limits:
    """The limits of one endpoint: at most `concurrency` requests in flight, and the
    optional requests/min and tokens/min buckets (tokens estimated before sending)."""

    def __init__(
        self,
        concurrency: int,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ):
        self.slots = asyncio.Semaphore(concurrency)
        self.requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None

    async def admit(self, tokens: int) -> None:
        """Wait until one more request of about `tokens` tokens may be sent."""
        if self.requests is not None:
            await self.requests.take(1)
        if self.tokens is not None:
            await self.tokens.take(tokens)
