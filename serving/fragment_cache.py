"""Events rendered as JSON once per row version, per worker: the recommendations' event cache.

A recommendation is an event plus three fields; re-reading, decoding and re-encoding the same
twenty event columns on every request cost more than choosing which events to show. The
recommendation queries name each event's id and rendering version (the row versions, ``xmin``,
of the event, its places count and its organiser: they change with every write, whoever makes
it), so a cached rendering is used only while they are unchanged; a changed or unknown event is
read once more.
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

from serving.common import EVENT_COLUMNS, EVENT_RENDER_VERSION

EVENTS_BY_ID_SQL = f"""
    SELECT {EVENT_COLUMNS}, {EVENT_RENDER_VERSION} AS row_version FROM app.events e
    WHERE e.id = ANY (%(ids)s::bigint[])"""

# What recommendations can show: published upcoming events, soonest first.
RECOMMENDABLE_EVENTS_SQL = f"""
    SELECT {EVENT_COLUMNS}, {EVENT_RENDER_VERSION} AS row_version FROM app.events e
    WHERE e.status = 'published' AND e.starts_at > now()
    ORDER BY e.starts_at LIMIT %(limit)s"""


class EventFragments:
    """Rendered events by id, each with the row version it was rendered at."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        # id -> (row version, JSON without its closing brace, start as epoch seconds)
        self._rendered: dict[int, tuple[str, bytes, float]] = {}

    async def ensure(self, conn: AsyncConnection[Any], versions: list[tuple[int, str]]) -> bool:
        """Render the events of ``versions`` (id, row version) not cached at that version.

        Returns whether the database had to be read (one query for all of them).
        """
        rendered = self._rendered
        ids = [
            event_id
            for event_id, version in versions
            if (known := rendered.get(event_id)) is None or known[0] != version
        ]
        if not ids:
            return False
        if len(rendered) + len(ids) > self.max_entries:
            rendered.clear()
            ids = [event_id for event_id, _ in versions]
        cur = await conn.execute(EVENTS_BY_ID_SQL, {"ids": ids})
        self._keep(await cur.fetchall())
        return True

    async def warm(self, conn: AsyncConnection[Any]) -> int:
        """Render every event recommendations can show (up to half the capacity), so that the
        first answers of a new worker are one query each instead of two; how many."""
        cur = await conn.execute(RECOMMENDABLE_EVENTS_SQL, {"limit": self.max_entries // 2})
        rows = await cur.fetchall()
        self._keep(rows)
        return len(rows)

    def _keep(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            version = row.pop("row_version")
            # Without the closing brace, so that per-request fields can follow.
            self._rendered[row["id"]] = (
                version,
                orjson.dumps(row)[:-1],
                row["starts_at"].timestamp(),
            )

    def has(self, event_id: int) -> bool:
        return event_id in self._rendered

    def starts_at(self, event_id: int) -> float:
        """The cached event's start, in epoch seconds."""
        return self._rendered[event_id][2]

    def render(self, event_id: int, extra: dict[str, Any]) -> bytes:
        """The cached event as JSON with ``extra``'s fields appended after its own."""
        return self._rendered[event_id][1] + b"," + orjson.dumps(extra)[1:]
