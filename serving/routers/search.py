"""Event search: ranked full text, typo tolerance, filters, geo radius, sorts, facets, paging.

Full text uses the weighted ``search_document`` (title > tags, category > description) with
``websearch_to_tsquery``, so users may type quotes, ``or`` and ``-word``. When full text finds
nothing, the words are matched by trigram similarity against titles ("conferense" finds
"conference"). Only published, upcoming events are searched unless the client asks otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from serving.cache import cache_key, response_cache
from serving.common import EVENT_COLUMNS, DateTime, EventOut, PageInfo, Paging, PagingDep, respond
from serving.curation import LISTED, LOW_QUALITY
from serving.db import Connection, connection
from serving.errors import ERROR_RESPONSES, ApiError
from serving.text import StorableStr

router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=ERROR_RESPONSES)

# Great-circle distance in km from (%(lat)s, %(lng)s) to the event (haversine).
DISTANCE_KM = """(12742.0 * asin(least(1.0, sqrt(
        power(sin(radians(e.lat - %(lat)s) / 2), 2)
        + cos(radians(%(lat)s)) * cos(radians(e.lat))
          * power(sin(radians(e.lng - %(lng)s) / 2), 2)))))"""

# How each mode ranks a match; the trigram mode scores titles by word similarity.
RELEVANCE = {
    "fulltext": "ts_rank_cd(e.search_document, websearch_to_tsquery('english', %(q)s), 32)",
    "fuzzy": "word_similarity(%(q)s, e.title)",
    "browse": "0.0",
}
MATCH = {
    "fulltext": "e.search_document @@ websearch_to_tsquery('english', %(q)s)",
    "fuzzy": "%(q)s <%% e.title",
    "browse": "TRUE",
}
# Joined only when sorting by popularity: the global popularity the batch job published.
POPULARITY_JOIN = """
    LEFT JOIN (SELECT p.event_id, max(p.score) AS score FROM serving.popular_events p
               WHERE p.scope = 'global' AND p.scope_value = '' GROUP BY p.event_id) pop
           ON pop.event_id = e.id"""
ORDER_BY = {
    "relevance": "relevance DESC, e.starts_at, e.id",
    "date": "e.starts_at, e.id",
    "distance": "distance_km, e.starts_at, e.id",
    "popularity": "coalesce(pop.score, 0) DESC, e.starts_at, e.id",
    "price": "e.price NULLS LAST, e.starts_at, e.id",
}

# Low-quality listings (curation) come after every other match, whatever the sort.
SEARCH_EVENTS_SQL = f"""
    SELECT {{columns}}, {{relevance}}::float8 AS relevance, {{distance}} AS distance_km
    FROM app.events e {{joins}}
    WHERE {{match}} AND {{filters}}
    ORDER BY {LOW_QUALITY}, {{order}} LIMIT %(limit)s OFFSET %(offset)s"""

# Facets ignore the category filter, so a client can show the other categories' counts; the
# total for the page is read from the same counts.
SEARCH_FACETS_SQL = """
    SELECT e.category, count(*) AS count FROM app.events e
    WHERE {match} AND {filters}
    GROUP BY e.category ORDER BY count(*) DESC, e.category"""

SearchSort = Literal["relevance", "date", "distance", "popularity", "price"]
SearchStatus = Literal["published", "cancelled", "completed"]


class SearchHit(EventOut):
    relevance: float
    distance_km: float | None


class FacetCount(BaseModel):
    value: str | None
    count: int


class SearchFacets(BaseModel):
    category: list[FacetCount]


class SearchResults(PageInfo):
    items: list[SearchHit]
    mode: Literal["fulltext", "fuzzy", "browse"]
    facets: SearchFacets


class _Filters:
    """The WHERE fragments and parameters of one search, all from a fixed set of clauses."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.category_clause: str | None = None
        self.params: dict[str, Any] = {}

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def sql(self, *, with_category: bool = True) -> str:
        clauses = list(self.clauses)
        if with_category and self.category_clause:
            clauses.append(self.category_clause)
        return " AND ".join(clauses) or "TRUE"


@router.get("/events", response_model=SearchResults)
async def search_events(
    request: Request,
    paging: PagingDep,
    q: Annotated[StorableStr | None, Query(max_length=200, description="Search words")] = None,
    category: Annotated[StorableStr | None, Query(max_length=50, description="Any case")] = None,
    tags: Annotated[list[StorableStr] | None, Query(max_length=20, description="Any of")] = None,
    city: Annotated[StorableStr | None, Query(max_length=200, description="Any case")] = None,
    date_from: DateTime | None = None,
    date_to: DateTime | None = None,
    price_min: Annotated[float | None, Query(ge=0, le=1e8)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=1e8)] = None,
    free: bool | None = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=20_037)] = None,
    status: SearchStatus = "published",
    include_past: bool = False,
    sort: SearchSort | None = None,
) -> object:
    """Search events; ``total`` and ``facets`` count every match, not just this page.

    Answers are the same for every caller, so they are micro-cached (see ``serving.cache``).
    """
    query = (q or "").strip() or None
    if (lat is None) != (lng is None):
        raise ApiError(422, "validation_error", "lat and lng go together")
    if radius_km is not None and lat is None:
        raise ApiError(422, "validation_error", "radius_km needs lat and lng")
    sort = sort or ("relevance" if query else "date")
    if sort == "distance" and lat is None:
        raise ApiError(422, "validation_error", "sort=distance needs lat and lng")
    if date_from and date_to and date_to < date_from:
        raise ApiError(422, "validation_error", "date_to is before date_from")

    filters = _Filters()
    filters.add("e.status = %(status)s", status=status)
    filters.add(LISTED)
    if not include_past:
        filters.add("e.starts_at >= now()")
    if date_from is not None:
        filters.add("e.starts_at >= %(date_from)s", date_from=date_from)
    if date_to is not None:
        filters.add("e.starts_at <= %(date_to)s", date_to=date_to)
    if tags:
        filters.add("e.tags && %(tags)s::text[]", tags=tags)
    if city is not None:
        filters.add("lower(e.city) = lower(%(city)s)", city=city)
    if price_min is not None:
        filters.add("e.price >= %(price_min)s", price_min=price_min)
    if price_max is not None:
        filters.add("e.price <= %(price_max)s", price_max=price_max)
    if free is not None:
        filters.add("e.price = 0" if free else "e.price > 0")
    if lat is not None:
        filters.params.update(lat=lat, lng=lng)
    if radius_km is not None:
        # A bounding box first (cheap), then the exact distance.
        lat_span = radius_km / 111.2
        filters.add(
            f"e.lat BETWEEN %(lat)s - %(lat_span)s AND %(lat)s + %(lat_span)s"
            f" AND {DISTANCE_KM} <= %(radius_km)s",
            lat_span=lat_span,
            radius_km=radius_km,
        )
    if category is not None:
        filters.category_clause = "lower(e.category) = lower(%(category)s)"
        filters.params["category"] = category

    params = {**filters.params, "q": query, "limit": paging.limit, "offset": paging.offset}
    modes = ["fulltext", "fuzzy"] if query else ["browse"]
    near = lat is not None

    async def render() -> bytes:
        async with connection(request) as conn:
            items, total, facets, mode = await _run_search(
                conn, modes, filters, params, category, near, sort, paging
            )
        page = {
            "items": items,
            "total": total,
            "limit": paging.limit,
            "offset": paging.offset,
            "mode": mode,
            "facets": {"category": facets},
        }
        return bytes(respond(page).body)

    body = await response_cache(request).fetch(cache_key(request), render)
    return Response(body, media_type="application/json")


async def _run_search(
    conn: Connection,
    modes: list[str],
    filters: _Filters,
    params: dict[str, Any],
    category: str | None,
    with_distance: bool,
    sort: str,
    paging: Paging,
) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]], str]:
    """Counts first (full text, then trigram when it finds nothing), then the page itself."""
    for mode in modes:
        facets, total = await _facets(conn, mode, filters, params, category)
        if total or mode == modes[-1]:
            break
    items: list[dict[str, Any]] = []
    if total > paging.offset:
        cur = await conn.execute(
            SEARCH_EVENTS_SQL.format(
                columns=EVENT_COLUMNS,
                relevance=RELEVANCE[mode],
                distance=DISTANCE_KM if with_distance else "NULL::float8",
                match=MATCH[mode],
                filters=filters.sql(),
                order=ORDER_BY[sort],
                joins=POPULARITY_JOIN if sort == "popularity" else "",
            ),
            params,
        )
        items = await cur.fetchall()
    return items, total, facets, mode


async def _facets(
    conn: Connection,
    mode: str,
    filters: _Filters,
    params: dict[str, Any],
    category: str | None,
) -> tuple[list[dict[str, Any]], int]:
    """Category counts over the matches (ignoring the category filter) and the page total."""
    cur = await conn.execute(
        SEARCH_FACETS_SQL.format(match=MATCH[mode], filters=filters.sql(with_category=False)),
        params,
    )
    rows = await cur.fetchall()
    facets = [{"value": row["category"], "count": row["count"]} for row in rows]
    if category is None:
        total = sum(row["count"] for row in rows)
    else:
        wanted = category.lower()
        total = sum(row["count"] for row in rows if (row["category"] or "").lower() == wanted)
    return facets, total
