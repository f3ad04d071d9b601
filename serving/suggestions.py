"""Autocomplete answered from the worker's memory: the names of upcoming events, their cities and
their organisers, indexed by the start of every word.

A keystroke's answer must come in a few milliseconds, and the prefixes people type first (one or
two letters) match thousands of events: PostgreSQL would read and sort them all for five names.
The suggestible names are few (one per upcoming listed event, city and organiser), so each
worker keeps them as a sorted list of the names' word-start suffixes ("python meetup #42",
"meetup #42", "#42"): the names with a word starting with what is typed are one binary search
away, with the same meaning as ``name ILIKE 'typed%' OR name ILIKE '% typed%'``.

The index is read when the app starts, in one round trip, and rebuilt in the background once it
is older than ``max_age`` seconds (while the old one keeps answering, and in a thread, so that
requests are not held up), so a change shows in autocomplete within that time; an event that
has started since is left out at once.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg_pool import PoolTimeout

from core.contracts import CURATION_LISTED
from serving.curation import LOW_QUALITY

log = logging.getLogger("serving.suggestions")

Connect = Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[DictRow]]]

SUGGESTIBLE_SQL = f"""
    SELECT e.id, e.title, e.starts_at, e.city, {LOW_QUALITY} AS low_quality,
           u.id AS organizer_id, u.name AS organizer_name
    FROM app.events e LEFT JOIN app.users u ON u.id = e.organizer_id AND u.role = 'organizer'
    WHERE e.status = 'published' AND e.starts_at >= now() AND {CURATION_LISTED}"""

# Beyond this many names sharing a prefix, only this many are ranked (the best five of a
# one-letter prefix are among the soonest anyway, and the list is sorted by start).
MAX_CANDIDATES = 20_000


def word_starts(name: str) -> list[str]:
    """``name`` in lower case from the start of each of its words (after a space)."""
    lowered = name.lower()
    return [lowered[i:] for i in range(len(lowered)) if i == 0 or lowered[i - 1] == " "]


@dataclass(frozen=True)
class _Entry:
    """A suggestible name: what the answer shows and the order it ranks in."""

    payload: dict[str, Any]
    name: str  # lower case
    rank: tuple[Any, ...]
    starts_at: datetime | None


class PrefixIndex:
    """Names by the start of each of their words; answers in ``rank`` order, names starting
    with what is typed first."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
        self._entries = list(entries)
        pairs = sorted(
            (suffix, i)
            for i, entry in enumerate(self._entries)
            for suffix in word_starts(entry.name)
        )
        self._suffixes = [suffix for suffix, _ in pairs]
        self._owners = [i for _, i in pairs]

    def lookup(self, typed: str, limit: int, now: datetime) -> list[dict[str, Any]]:
        """The best ``limit`` names with a word starting with ``typed`` (lower case, single
        spaces), skipping what starts before ``now``."""
        low = bisect.bisect_left(self._suffixes, typed)
        high = bisect.bisect_left(self._suffixes, typed + "\U0010ffff", low)
        owners = set(self._owners[low : min(high, low + MAX_CANDIDATES)])
        entries = (self._entries[i] for i in owners)
        best = heapq.nsmallest(
            limit,
            (e for e in entries if e.starts_at is None or e.starts_at >= now),
            key=lambda e: (not e.name.startswith(typed), *e.rank),
        )
        return [e.payload for e in best]


def _indexes(rows: list[dict[str, Any]]) -> tuple[PrefixIndex, PrefixIndex, PrefixIndex]:
    """The events', cities' and organisers' indexes of the suggestible events."""
    events = [
        _Entry(
            {"id": r["id"], "title": r["title"], "starts_at": r["starts_at"], "city": r["city"]},
            r["title"].lower(),
            (r["low_quality"], r["starts_at"], r["id"]),
            r["starts_at"],
        )
        for r in rows
    ]
    cities: dict[str, list[Any]] = {}
    organizers: dict[int, list[Any]] = {}
    for r in rows:
        if r["city"]:
            # One city whatever its case, shown as its first spelling in sort order.
            spelling = cities.setdefault(r["city"].lower(), [r["city"], 0])
            spelling[0] = min(spelling[0], r["city"])
            spelling[1] += 1
        if r["organizer_id"] is not None:
            organizers.setdefault(r["organizer_id"], [r["organizer_name"], 0])[1] += 1
    return (
        PrefixIndex(events),
        PrefixIndex(
            _Entry({"city": city, "events": n}, key, (-n, key), None)
            for key, (city, n) in cities.items()
        ),
        PrefixIndex(
            _Entry({"id": uid, "name": name, "events": n}, name.lower(), (-n, name, uid), None)
            for uid, (name, n) in organizers.items()
        ),
    )


class SuggestionIndex:
    """The worker's autocomplete index: rebuilt in the background when older than ``max_age``
    seconds, and before answering when older than ``max_stale`` (a worker that was idle)."""

    def __init__(
        self,
        max_age: float = 10.0,
        max_stale: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.max_stale = max_stale
        self._clock = clock
        self._indexes: tuple[PrefixIndex, PrefixIndex, PrefixIndex] | None = None
        self._built_at = 0.0
        self._building = asyncio.Lock()
        self._rebuilding: asyncio.Task[None] | None = None

    async def _build(self, connect: Connect) -> None:
        async with connect() as conn:
            cur = await conn.execute(SUGGESTIBLE_SQL)
            rows = await cur.fetchall()
        # Indexing a large catalogue takes a CPU-bound fraction of a second: in a thread, the
        # worker keeps answering meanwhile instead of stalling every request for that long.
        self._indexes = await asyncio.to_thread(_indexes, rows)
        self._built_at = self._clock()

    def _age(self) -> float:
        return self._clock() - self._built_at

    async def warm(self, connect: Connect) -> None:
        """Read the index unless one at most ``max_stale`` old is there (the app's start, and
        requests that find none)."""
        if self._indexes is None or self._age() > self.max_stale:
            async with self._building:
                if self._indexes is None or self._age() > self.max_stale:
                    await self._build(connect)

    async def _rebuild(self, connect: Connect) -> None:
        try:
            await self._build(connect)
        except (psycopg.Error, PoolTimeout) as error:
            # The index in use stays; the next request past max_age tries again.
            log.warning("autocomplete index not rebuilt: %s", error)

    async def suggest(
        self, connect: Connect, typed: str, limit: int, now: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """Events, cities and organisers for ``typed``; ``connect`` opens a pooled connection.
        Only a request that finds no index, or one older than ``max_stale``, waits for it."""
        await self.warm(connect)
        if self._age() > self.max_age and (self._rebuilding is None or self._rebuilding.done()):
            self._rebuilding = asyncio.create_task(self._rebuild(connect))
        assert self._indexes is not None
        events, cities, organizers = self._indexes
        typed = typed.lower()
        return {
            "events": events.lookup(typed, limit, now),
            "cities": cities.lookup(typed, limit, now),
            "organizers": organizers.lookup(typed, limit, now),
        }

    async def close(self) -> None:
        """Stop a rebuild under way (the app's shutdown)."""
        if self._rebuilding is not None:
            self._rebuilding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rebuilding
