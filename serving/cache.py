"""A small in-process cache of rendered public responses (micro-caching).

The busiest public reads (the first page of events, a popular search such as ``q=tech``) are the
same for every caller; ranking thousands of full-text matches for each of hundreds of identical
requests a second would spend the CPU on answers that cannot have changed. Caching the rendered
bytes for a couple of seconds per worker bounds that work to one query per key and interval,
at the price of new events showing up in those lists up to ``ttl`` seconds later.
Only anonymous-safe answers go here: nothing that depends on the caller.

A key nobody has cached yet is computed once for all the requests that ask for it meanwhile
(single flight) instead of each running the same query: without this, a busy search set off a
burst of identical full-text queries that held the pool's connections and delayed every other
endpoint. A busy key that has just expired is refreshed in the background while its previous
body keeps being served (stale-while-revalidate), so no request waits for that refresh; a body
is served stale only within one more ``ttl`` after it expired, and only while its refresh runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from starlette.requests import Request

log = logging.getLogger("serving.cache")


class ResponseCache:
    """Rendered bodies by key, each valid for ``ttl`` seconds; least recently used evicted."""

    def __init__(self, ttl: float = 2.0, max_entries: int = 2048) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, body = entry
        if expires < time.monotonic():
            return None
        self._entries.move_to_end(key)
        return body

    def _stale(self, key: str) -> bytes | None:
        """The expired body of ``key`` while it may still stand in for a refresh in progress."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, body = entry
        if expires + self.ttl < time.monotonic():
            del self._entries[key]
            return None
        return body

    async def _refresh(self, key: str, compute: Callable[[], Awaitable[bytes]]) -> None:
        try:
            self.put(key, await compute())
        except Exception:
            # Nothing is kept: the first request after the stale window computes it anew.
            log.warning("background refresh of %s failed", key, exc_info=True)
        finally:
            del self._refreshing[key]

    def put(self, key: str, body: bytes) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    async def fetch(self, key: str, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached body of ``key``, computed by ``compute`` once for all concurrent callers.

        A caller that finds the key being computed waits for that result. If the computation
        fails (an error answer, a cancelled request), each waiter computes for itself, so errors
        are never shared and a cancelled client cannot fail the others.
        """
        body = self.get(key)
        if body is not None:
            return body
        if self.ttl <= 0:
            return await compute()
        stale = self._stale(key)
        if stale is not None:
            if key not in self._refreshing and key not in self._inflight:
                self._refreshing[key] = asyncio.create_task(self._refresh(key, compute))
            return stale
        pending = self._inflight.get(key)
        if pending is not None:
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared
            return await compute()
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            body = await compute()
            self.put(key, body)
            return body
        finally:
            del self._inflight[key]
            future.set_result(body)


def cache_key(request: Request) -> str:
    """Path plus query string with parameters in a canonical order."""
    items = sorted(request.query_params.multi_items())
    return request.url.path + "?" + "&".join(f"{k}={v}" for k, v in items)


def response_cache(request: Request) -> ResponseCache:
    return request.app.state.response_cache
