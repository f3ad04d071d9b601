"""Lists of events: the filters, the orders, offset and keyset paging, and the rendered page.

``/events`` and ``/series/{id}/events`` answer the same kind of page from here. Public pages are
the same for every caller and come from the worker's micro-cache (:mod:`serving.cache`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from starlette.requests import Request

from core.contracts import CURATION_LISTED
from serving.cache import cache_key, response_cache
from serving.common import EVENT_COLUMNS, CursorPageInfo, EventOut, Paging, respond
from serving.cursors import decode_cursor, encode_cursor
from serving.db import connection
from serving.errors import ApiError

LIST_EVENTS_SQL = """
    SELECT {columns} FROM app.events e WHERE {where}
    ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_EVENTS_SQL = "SELECT count(*) AS total FROM app.events e WHERE {where}"
LIST_ORDER = {"date": "e.starts_at, e.id", "price": "e.price NULLS LAST, e.starts_at, e.id"}
# Where a cursor resumes each order: after the last item's sort key. Prices sort nulls last,
# so a position among priced events also takes every unpriced one, and a position among the
# unpriced ones only the unpriced after it.
AFTER_CURSOR = {
    "date": "(e.starts_at, e.id) > (%(after_start)s, %(after_id)s)",
    "price": """(CASE WHEN %(after_price)s::numeric IS NULL
                      THEN e.price IS NULL AND (e.starts_at, e.id) > (%(after_start)s, %(after_id)s)
                      ELSE e.price IS NULL
                           OR (e.price, e.starts_at, e.id)
                              > (%(after_price)s::numeric, %(after_start)s, %(after_id)s) END)""",
}
CURSOR_KEY_TYPES = {"date": (datetime, int), "price": (float, datetime, int)}


def _cursor_key(sort: str, event: dict[str, Any]) -> list[Any]:
    if sort == "price":
        return [event["price"], event["starts_at"], event["id"]]
    return [event["starts_at"], event["id"]]


class EventPage(CursorPageInfo):
    items: list[EventOut]


class EventFilters(NamedTuple):
    """What a list of events is restricted to."""

    status: str
    category: str | None
    city: str | None
    organizer_id: int | None
    series_id: int | None
    include_past: bool


def event_list_condition(filters: EventFilters) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (over ``app.events e``) and its parameters for ``filters``."""
    where = ["e.status = %(status)s", CURATION_LISTED]
    params: dict[str, Any] = {"status": filters.status}
    if not filters.include_past:
        where.append("e.starts_at >= now()")
    for column, value in (("category", filters.category), ("city", filters.city)):
        if value is not None:
            where.append(f"lower(e.{column}) = lower(%({column})s)")
            params[column] = value
    for column, value in (("organizer_id", filters.organizer_id), ("series_id", filters.series_id)):
        if value is not None:
            where.append(f"e.{column} = %({column})s")
            params[column] = value
    return " AND ".join(where), params


async def render_event_page(
    request: Request, filters: EventFilters, paging: Paging, sort: str, cursor: str | None
) -> bytes:
    """One page of events as JSON; public pages come from the worker's micro-cache."""
    condition, params = event_list_condition(filters)
    page_condition = condition
    if cursor is not None:
        if paging.offset:
            raise ApiError(422, "validation_error", "pass either cursor or offset, not both")
        key = decode_cursor(cursor, sort, CURSOR_KEY_TYPES[sort])
        names = ["after_price", "after_start", "after_id"][-len(key) :]
        params.update(zip(names, key, strict=True))
        page_condition = f"{condition} AND {AFTER_CURSOR[sort]}"
    # One more than the page: whether a next page exists, without a second query.
    params.update(limit=paging.limit + 1, offset=paging.offset)
    items_sql = LIST_EVENTS_SQL.format(
        columns=EVENT_COLUMNS, where=page_condition, order=LIST_ORDER[sort]
    )
    count_sql = COUNT_EVENTS_SQL.format(where=condition)

    async def render() -> bytes:
        async with connection(request) as conn, conn.pipeline():
            items_cur = await conn.execute(items_sql, params)
            count_cur = await conn.execute(count_sql, params)
            items = await items_cur.fetchall()
            total = (await count_cur.fetchone())["total"]  # type: ignore[index]
        more = len(items) > paging.limit
        items = items[: paging.limit]
        page = {
            "items": items,
            "total": total,
            "limit": paging.limit,
            "offset": paging.offset,
            "next_cursor": encode_cursor(sort, _cursor_key(sort, items[-1])) if more else None,
        }
        return bytes(respond(page).body)

    if filters.status == "draft":
        return await render()
    # Public listings are the same for every caller: micro-cached (see ``serving.cache``).
    return await response_cache(request).fetch(cache_key(request), render)
