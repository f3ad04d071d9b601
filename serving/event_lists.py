"""Lists of events: the filters, the orders, offset and keyset paging, and the rendered page.

``/events`` and ``/series/{id}/events`` answer the same kind of page from here. Public pages are
the same for every caller and come from the worker's micro-cache (:mod:`serving.cache`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from starlette.requests import Request

from core.contracts import CURATION_LISTED
from serving.cache import cache_key, response_cache
from serving.common import EVENT_COLUMNS, CursorPageInfo, EventOut, Keyset, Paging, respond
from serving.db import connection

LIST_EVENTS_SQL = """
    SELECT {columns} FROM app.events e WHERE {where}
    ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_EVENTS_SQL = "SELECT count(*) AS total FROM app.events e WHERE {where}"
LIST_ORDER = {"date": "e.starts_at, e.id", "price": "e.price NULLS LAST, e.starts_at, e.id"}
# The same orders, for cursors: where a page resumes after the last item's sort key.
_BY_START = (("e.starts_at", "starts_at", "timestamptz", False), ("e.id", "id", "bigint", False))
CURSOR_ORDER = {
    "date": Keyset("date", _BY_START),
    "price": Keyset("price", (("e.price", "price", "numeric", False), *_BY_START), True),
}


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
    order = CURSOR_ORDER[sort]
    # Checked before the cache: a cursor that is not this order's is the caller's 422.
    after, after_params = order.resume(cursor, paging)
    # One more than the page: whether a next page exists, without a second query.
    params.update(after_params, limit=paging.limit + 1, offset=paging.offset)
    items_sql = LIST_EVENTS_SQL.format(
        columns=EVENT_COLUMNS, where=f"{condition} AND {after}", order=LIST_ORDER[sort]
    )
    count_sql = COUNT_EVENTS_SQL.format(where=condition)

    async def render() -> bytes:
        async with connection(request) as conn, conn.pipeline():
            items_cur = await conn.execute(items_sql, params)
            count_cur = await conn.execute(count_sql, params)
            items = await items_cur.fetchall()
            total = (await count_cur.fetchone())["total"]  # type: ignore[index]
        return bytes(respond(order.page(items, total, paging)).body)

    if filters.status == "draft":
        return await render()
    # Public listings are the same for every caller: micro-cached (see ``serving.cache``).
    return await response_cache(request).fetch(cache_key(request), render)
