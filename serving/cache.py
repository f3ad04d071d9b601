"""A small in-process cache of rendered public responses (micro-caching).

The busiest public reads (the first page of events, a popular search such as ``q=tech``) are the
same for every caller; ranking thousands of full-text matches for each of hundreds of identical
requests a second would spend the CPU on answers that cannot have changed. Caching the rendered
bytes for a couple of seconds per worker bounds that work to one query per key and interval,
at the price of new events showing up in those lists up to ``ttl`` seconds later.
Only anonymous-safe answers go here: nothing that depends on the caller.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from starlette.requests import Request


class ResponseCache:
    """Rendered bodies by key, each valid for ``ttl`` seconds; least recently used evicted."""

    def __init__(self, ttl: float = 2.0, max_entries: int = 2048) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, body = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return body

    def put(self, key: str, body: bytes) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


def cache_key(request: Request) -> str:
    """Path plus query string with parameters in a canonical order."""
    items = sorted(request.query_params.multi_items())
    return request.url.path + "?" + "&".join(f"{k}={v}" for k, v in items)


def response_cache(request: Request) -> ResponseCache:
    return request.app.state.response_cache
