"""Recurring series: the events of one series, the next ones first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from serving.common import MAX_BIGINT, CursorQuery, PagingDep
from serving.db import connection
from serving.errors import ERROR_RESPONSES, not_found
from serving.event_lists import EventFilters, EventPage, render_event_page
from serving.http_cache import PUBLIC_LIST_CACHING, conditional

router = APIRouter(prefix="/api/v1/series", tags=["series"], responses=ERROR_RESPONSES)

SeriesId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="Series id")]

SERIES_EXISTS_SQL = "SELECT 1 FROM app.events WHERE series_id = %(id)s LIMIT 1"


@router.get("/{series_id}/events", response_model=EventPage)
async def series_events(
    request: Request,
    series_id: SeriesId,
    paging: PagingDep,
    include_past: bool = False,
    cursor: CursorQuery = None,
) -> object:
    """The published events of a series by start: upcoming ones, or all with ``include_past``.

    A series no event belongs to is a 404; one whose events are all past answers an empty page.
    """
    async with connection(request) as conn:
        found = await (await conn.execute(SERIES_EXISTS_SQL, {"id": series_id})).fetchone()
    if found is None:
        raise not_found("series")
    filters = EventFilters("published", None, None, None, series_id, include_past)
    body = await render_event_page(request, filters, paging, "date", cursor)
    return conditional(request, body, cache_control=PUBLIC_LIST_CACHING)
