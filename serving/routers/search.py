"""Event search: words ranked the way people expect, typo tolerance, facets, geo, autocomplete.

What the text asks for is parsed by :mod:`serving.search_terms`. A word the catalogue has
matches as itself; one it does not have matches as a prefix and through the catalogue's words
that look like it (``app.search_words``: trigrams, first letters or the same letters; "pyhton"
finds "python"). The matches are the strictest set that finds anything: every word, then all
but one, then any word. They are ranked, in this order (after Meilisearch's ranking rules): the
words matched, a word in the title counting twice; the title being the query; the query as a
phrase in the title; words matched as typed rather than corrected; PostgreSQL's cover-density
rank; the shorter title; the start (soonest first). The matches are found once, through the
text index, and feed both the facets and the page; only the best ``RELEVANCE_POOL`` of them (the
exact title first, then ``ts_rank``) get the full scores. Only published, upcoming events are
searched unless the client asks otherwise; duplicates of another feed's listing are left out and
low-quality listings come last (curation).

Facets count every match by category, city, start (today, this weekend, the next 30 days) and
price band; each ignores its own filter and respects the others, so a client can offer the
alternatives. With a point (``lat``/``lng``, or a signed-in user's home) every hit carries its
distance. Answers are the same for every caller with the same point, so they are micro-cached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from core.contracts import CURATION_LISTED
from serving.cache import cache_key, response_cache
from serving.common import (
    EVENT_COLUMNS,
    DateTime,
    EventOut,
    PageInfo,
    Paging,
    parse_query,
    query_parameters,
    respond,
)
from serving.curation import LOW_QUALITY
from serving.db import Connection, connection
from serving.errors import ERROR_RESPONSES, ApiError
from serving.search_terms import (
    MIN_TYPO_LENGTH,
    TWO_TYPOS_LENGTH,
    QueryTexts,
    SearchTerms,
    may_be_prefix,
    parse_search,
    query_texts,
)
from serving.search_vocabulary import KnownWords
from serving.security import authenticate
from serving.suggestions import SuggestionIndex
from serving.text import StorableStr

router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=ERROR_RESPONSES)

# Great-circle distance in km from (%(lat)s, %(lng)s) to the event (haversine).
DISTANCE_KM = """(12742.0 * asin(least(1.0, sqrt(
        power(sin(radians(e.lat - %(lat)s) / 2), 2)
        + cos(radians(%(lat)s)) * cos(radians(e.lat))
          * power(sin(radians(e.lng - %(lng)s) / 2), 2)))))"""

# Per query word: whether the catalogue has it, and if not (and it is long enough) up to three
# of its words within the word's edit budget, fewest edits first. Candidates share trigrams with
# the word, or its first two letters, or all its letters (trigrams alone miss swapped letters:
# "pyhton" and "python" share three of eleven, "oepra" and "opera" not their first two letters).
CORRECTIONS_SQL = """
    SELECT q.word, q.known, array(
               SELECT v.word FROM app.search_words v
               WHERE NOT q.known AND char_length(q.word) >= %(min_typo)s
                 AND (v.word %% q.word
                      OR v.letters = app.sorted_letters(q.word)
                      OR (left(v.word, 2) = left(q.word, 2)
                          AND char_length(v.word)
                              BETWEEN char_length(q.word) - 2 AND char_length(q.word) + 2))
                 AND levenshtein_less_equal(v.word, q.word, q.edits) <= q.edits
               ORDER BY levenshtein(v.word, q.word), similarity(v.word, q.word) DESC, v.word
               LIMIT 3) AS corrections
    FROM (SELECT w AS word, EXISTS (SELECT 1 FROM app.search_words s WHERE s.word = w) AS known,
                 CASE WHEN char_length(w) >= %(two_edits)s THEN 2 ELSE 1 END AS edits
          FROM unnest(%(words)s::text[]) AS w) q"""

# The query's tsqueries, computed once per statement.
QUERIES_CTE = """
    q AS MATERIALIZED (
        SELECT to_tsquery('english', %(any)s) AS any_q,
               array(SELECT to_tsquery('english', g) FROM unnest(%(groups)s::text[]) g) AS groups,
               array(SELECT to_tsquery('english', g) FROM unnest(%(exact)s::text[]) g) AS exact,
               array(SELECT to_tsquery('english', g) FROM unnest(%(title)s::text[]) g) AS titles
    )"""
MATCH = "e.search_document @@ q.any_q"

# How well an event matches, column by column (see the module docstring for the order).
SCORES = """
    LATERAL (SELECT
        (SELECT count(*) FROM unnest(q.groups) t WHERE e.search_document @@ t) AS words,
        (SELECT count(*) FROM unnest(q.titles) t WHERE e.search_document @@ t) AS title_words,
        (e.title_key = %(phrase)s)::int AS title_equal,
        (position(%(phrase)s IN e.title_key) > 0)::int AS phrase,
        (SELECT count(*) FROM unnest(q.exact) t WHERE e.search_document @@ t) AS exact_words,
        ts_rank_cd(e.search_document, q.any_q, 32) AS rank
    ) s"""
RELEVANCE = (
    "((s.words + s.title_words) * 1000 + s.title_equal * 200 + s.phrase * 100"
    " + s.exact_words * 10 + s.rank)"
)
RELEVANCE_ORDER = (
    "s.words + s.title_words DESC, s.title_equal DESC, s.phrase DESC, s.exact_words DESC, "
    "s.rank DESC, char_length(e.title), e.starts_at, e.id"
)
# The first, cheap estimate of the above for every match: the title being the query, then
# ``ts_rank``, which sums each query word's weights in the document (PostgreSQL's defaults:
# title 1, tags, category and city 0.4, description 0.2).
FIRST_RANK = "ts_rank(e.search_document, q.any_q)"

# Joined only when sorting by popularity: the global popularity the batch job published.
POPULARITY_JOIN = """
    LEFT JOIN (SELECT p.event_id, max(p.score) AS score FROM serving.popular_events p
               WHERE p.scope = 'global' AND p.scope_value = '' GROUP BY p.event_id) pop
           ON pop.event_id = e.id"""
# Each sort's order, over the matches (``m``, see :func:`search_sql`) and over the page's rows.
FIRST_ORDER = {
    "relevance": "m.title_equal DESC, m.first_rank DESC, m.title_length, m.starts_at, m.id",
    "date": "m.starts_at, m.id",
    "distance": "m.distance_km, m.starts_at, m.id",
    "popularity": "m.popularity DESC, m.starts_at, m.id",
    "price": "m.price NULLS LAST, m.starts_at, m.id",
}
ORDER_BY = {
    **{sort: order.replace("m.", "page.") for sort, order in FIRST_ORDER.items()},
    "relevance": RELEVANCE_ORDER,
}

# Start buckets, in UTC: the rest of today, this weekend (Saturday and Sunday of the current
# week), the next 30 days.
DATE_BUCKETS = {
    "today": "e.starts_at < date_trunc('day', now()) + interval '1 day'",
    "this_weekend": "e.starts_at >= date_trunc('week', now()) + interval '5 days'"
    " AND e.starts_at < date_trunc('week', now()) + interval '7 days'",
    "next_30_days": "e.starts_at < now() + interval '30 days'",
}
PRICE_BANDS = {
    "free": "e.price = 0",
    "under_20": "e.price > 0 AND e.price < 20",
    "20_to_50": "e.price >= 20 AND e.price < 50",
    "50_and_over": "e.price >= 50",
}
FACETS = ("category", "city", "date", "price")

# Relevance scores only a pool of the best matches by the first estimate (the scores re-check
# each word against the document): the page's candidates, then their columns and scores.
RELEVANCE_POOL = 30


def search_sql(
    *,
    base: str,
    facet_filters: dict[str, str],
    match: str,
    sort: str,
    with_scores: bool,
    with_distance: bool,
) -> str:
    """One statement for a search: the matches (``m``: found once, through the text index)
    feed both the facet counts and the page. Every row carries the facets as JSON (the first
    column); with no hit on the page there is one row, of facets only.

    Each facet's counts respect every other facet's filter but not its own; the ``total`` row
    respects them all, and so does the page. Low-quality listings (curation) come after every
    other match, whatever the sort.
    """

    def others(facet: str) -> str:
        return " AND ".join(f"m.f_{f}" for f in FACETS if f != facet)

    every_filter = " AND ".join(f"m.f_{f}" for f in FACETS)
    flags = ", ".join(f"({facet_filters.get(f, 'TRUE')}) AS f_{f}" for f in FACETS)
    buckets = ", ".join(f"({condition}) AS in_{name}" for name, condition in DATE_BUCKETS.items())
    band = " ".join(f"WHEN {condition} THEN '{name}'" for name, condition in PRICE_BANDS.items())
    date_counts = ", ".join(
        f"count(*) FILTER (WHERE {others('date')} AND m.in_{name}) AS in_{name}"
        for name in DATE_BUCKETS
    )
    date_rows = ", ".join(f"('{name}', g.in_{name})" for name in DATE_BUCKETS)
    first_rank = FIRST_RANK if with_scores else "0.0"
    distance = DISTANCE_KM if with_distance else "NULL::float8"
    popularity = "coalesce(pop.score, 0)" if sort == "popularity" else "0"
    joins = POPULARITY_JOIN if sort == "popularity" else ""
    relevance = RELEVANCE if with_scores else "0.0"
    scores = ", " + SCORES if with_scores else ""
    return f"""
        WITH {QUERIES_CTE}, m AS MATERIALIZED (
            SELECT e.id, e.starts_at, e.price, e.category, e.city,
                   char_length(e.title) AS title_length, CASE {band} END AS price_band,
                   {buckets}, {flags},
                   {LOW_QUALITY} AS low_quality, {first_rank} AS first_rank,
                   e.title_key = %(phrase)s AS title_equal,
                   {distance} AS distance_km, {popularity} AS popularity
            FROM q, app.events e {joins} WHERE {match} AND {base}
        ), g AS (
            -- Every facet's counts in one pass over the matches: GROUPING() tells the sets
            -- apart (3: by category, 5: by city, 6: by price band, 7: all the matches).
            SELECT GROUPING(m.category, m.city, m.price_band) AS grouped,
                   m.category, m.city, m.price_band,
                   count(*) FILTER (WHERE {others("category")}) AS by_category,
                   count(*) FILTER (WHERE {others("city")}) AS by_city,
                   count(*) FILTER (WHERE {others("price")}) AS by_price,
                   count(*) FILTER (WHERE {every_filter}) AS total, {date_counts}
            FROM m GROUP BY GROUPING SETS ((m.category), (m.city), (m.price_band), ())
        ), facets AS (
            SELECT 'category' AS facet, g.category AS value, g.by_category AS count
            FROM g WHERE g.grouped = 3
            UNION ALL SELECT 'city', g.city, g.by_city FROM g WHERE g.grouped = 5
            UNION ALL SELECT 'price', g.price_band, g.by_price FROM g WHERE g.grouped = 6
            UNION ALL SELECT 'total', NULL, g.total FROM g WHERE g.grouped = 7
            UNION ALL
            SELECT 'date', d.name, d.count
            FROM g, LATERAL (VALUES {date_rows}) d (name, count) WHERE g.grouped = 7
        ), page AS (
            SELECT m.* FROM m WHERE {every_filter}
            ORDER BY m.low_quality, {FIRST_ORDER[sort]} LIMIT %(pool)s OFFSET %(pool_offset)s
        )
        SELECT (SELECT json_agg(json_build_array(f.facet, f.value, f.count)) FROM facets f)::text
                   AS facets,
               hits.*
        FROM (SELECT) one LEFT JOIN LATERAL (
            SELECT {EVENT_COLUMNS}, {relevance}::float8 AS relevance, page.distance_km
            FROM q, page JOIN app.events e ON e.id = page.id {scores}
            ORDER BY page.low_quality, {ORDER_BY[sort]} LIMIT %(limit)s OFFSET %(offset)s
        ) hits ON TRUE"""


SearchSort = Literal["relevance", "date", "distance", "popularity", "price"]
SearchStatus = Literal["published", "cancelled", "completed"]
DateBucket = Literal["today", "this_weekend", "next_30_days"]


class SearchHit(EventOut):
    relevance: float
    distance_km: float | None = Field(description="From the given point or the user's home")


class FacetCount(BaseModel):
    value: str | None
    count: int


class SearchFacets(BaseModel):
    category: list[FacetCount]
    city: list[FacetCount]
    date: list[FacetCount] = Field(description="today, this_weekend, next_30_days (UTC)")
    price: list[FacetCount] = Field(description="free, under_20, 20_to_50, 50_and_over")


class SearchResults(PageInfo):
    items: list[SearchHit]
    mode: Literal["fulltext", "fuzzy", "browse"] = Field(
        description="fulltext: the words as typed; fuzzy: some matched through a correction; "
        "browse: no words"
    )
    facets: SearchFacets


class _Filters:
    """The WHERE fragments and parameters of one search, from a fixed set of clauses; the
    facetable filters (category, city, date, price) are kept apart for the facet counts."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.facets: dict[str, list[str]] = {}
        self.params: dict[str, Any] = {}

    def add(self, clause: str, facet: str | None = None, **params: Any) -> None:
        if facet is None:
            self.clauses.append(clause)
        else:
            self.facets.setdefault(facet, []).append(clause)
        self.params.update(params)

    def base(self) -> str:
        return " AND ".join(self.clauses) or "TRUE"

    def facet_filters(self) -> dict[str, str]:
        return {facet: " AND ".join(clauses) for facet, clauses in self.facets.items()}


async def _corrections(
    request: Request, conn: Connection, terms: SearchTerms
) -> tuple[dict[str, list[str]], set[str]]:
    """Catalogue words that look like each query word the catalogue does not have, and the
    query words it has; only the words not already known to be there are asked about."""
    known_words: KnownWords = request.app.state.known_search_words
    words = [w for w in terms.words if may_be_prefix(w)]
    asked = known_words.unknown(words)
    known = set(words) - set(asked)
    if not asked:
        return {}, known
    cur = await conn.execute(
        CORRECTIONS_SQL,
        {"words": asked, "two_edits": TWO_TYPOS_LENGTH, "min_typo": MIN_TYPO_LENGTH},
    )
    rows = await cur.fetchall()
    found = {row["word"] for row in rows if row["known"]}
    known_words.remember(found)
    corrections = {row["word"]: row["corrections"] for row in rows if row["corrections"]}
    return corrections, known | found


async def _home(request: Request, conn: Connection) -> tuple[float, float] | None:
    """The signed-in user's home point, if the account has one."""
    principal = await authenticate(request, conn)
    if principal is None or principal.user_id is None:
        return None
    cur = await conn.execute(
        "SELECT home_lat, home_lng FROM app.users WHERE id = %s", (principal.user_id,)
    )
    row = await cur.fetchone()
    if row is None or row["home_lat"] is None or row["home_lng"] is None:
        return None
    return row["home_lat"], row["home_lng"]


class SearchQuery(BaseModel):
    """The query string of ``GET /search/events``."""

    model_config = ConfigDict(extra="forbid")

    q: Annotated[StorableStr, Field(max_length=200)] | None = Field(
        default=None, description='Words; "a phrase" must appear, -word excludes'
    )
    category: Annotated[StorableStr, Field(max_length=50)] | None = Field(
        default=None, description="Any case"
    )
    tags: Annotated[list[StorableStr], Field(max_length=20)] | None = Field(
        default=None, description="Any of"
    )
    city: Annotated[StorableStr, Field(max_length=200)] | None = Field(
        default=None, description="Any case"
    )
    date_from: DateTime | None = None
    date_to: DateTime | None = None
    when: DateBucket | None = Field(default=None, description="A start bucket of the facets")
    price_min: Annotated[float, Field(ge=0, le=1e8)] | None = None
    price_max: Annotated[float, Field(ge=0, le=1e8)] | None = None
    free: bool | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lng: Annotated[float, Field(ge=-180, le=180)] | None = None
    radius_km: Annotated[float, Field(gt=0, le=20_037)] | None = None
    status: SearchStatus = "published"
    include_past: bool = False
    sort: SearchSort | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = Field(default=20, description="Items per page")
    offset: Annotated[int, Field(ge=0, le=100_000)] = Field(default=0, description="Items to skip")


@router.get(
    "/events",
    response_model=SearchResults,
    openapi_extra={"parameters": query_parameters(SearchQuery)},
)
async def search_events(request: Request) -> object:
    """Search events; ``total`` and ``facets`` count every match, not just this page.

    The matches are the events with every word if there are any, else those with all words but
    one, else those with any word (more words rank higher). A word the catalogue does not have
    also matches as a prefix and through the catalogue words that look like it (``mode``:
    ``fuzzy``). Without ``lat``/``lng`` a signed-in user's home is the point distances are
    measured from.

    The busiest public read takes its query string itself (one validation of
    :class:`SearchQuery`), as FastAPI's per-parameter resolution of eighteen parameters cost
    more than the rest of the handler's Python.
    """
    query = parse_query(request, SearchQuery)
    q, category, tags, city = query.q, query.category, query.tags, query.city
    date_from, date_to, when = query.date_from, query.date_to, query.when
    price_min, price_max, free = query.price_min, query.price_max, query.free
    lat, lng, radius_km, status = query.lat, query.lng, query.radius_km, query.status
    include_past, sort = query.include_past, query.sort
    paging = Paging(query.limit, query.offset)
    terms = parse_search(q or "")
    if (lat is None) != (lng is None):
        raise ApiError(422, "validation_error", "lat and lng go together")
    if date_from and date_to and date_to < date_from:
        raise ApiError(422, "validation_error", "date_to is before date_from")
    point: tuple[float, float] | None = (lat, lng) if lat is not None and lng is not None else None
    if point is None and request.headers.get("authorization"):
        async with connection(request) as conn:
            point = await _home(request, conn)
    if radius_km is not None and point is None:
        raise ApiError(422, "validation_error", "radius_km needs lat and lng (or a home)")
    sort = sort or ("relevance" if not terms.empty else "date")
    if sort == "distance" and point is None:
        raise ApiError(422, "validation_error", "sort=distance needs lat and lng (or a home)")
    if sort == "relevance" and terms.empty:
        sort = "date"

    filters = _Filters()
    filters.add("e.status = %(status)s", status=status)
    filters.add(CURATION_LISTED)
    if not include_past:
        filters.add("e.starts_at >= now()")
    if tags:
        filters.add("e.tags && %(tags)s::text[]", tags=tags)
    if point is not None:
        filters.params.update(lat=point[0], lng=point[1])
    if radius_km is not None:
        # A bounding box first (cheap), then the exact distance.
        filters.add(
            "e.lat BETWEEN %(lat)s - %(lat_span)s AND %(lat)s + %(lat_span)s"
            f" AND {DISTANCE_KM} <= %(radius_km)s",
            lat_span=radius_km / 111.2,
            radius_km=radius_km,
        )
    if terms.empty and terms.excluded:
        filters.add(
            "NOT e.search_document @@ to_tsquery('english', %(excluded)s)",
            excluded=" | ".join(terms.excluded),
        )
    if category is not None:
        filters.add("lower(e.category) = lower(%(category)s)", "category", category=category)
    if city is not None:
        filters.add("lower(e.city) = lower(%(city)s)", "city", city=city)
    if date_from is not None:
        filters.add("e.starts_at >= %(date_from)s", "date", date_from=date_from)
    if date_to is not None:
        filters.add("e.starts_at <= %(date_to)s", "date", date_to=date_to)
    if when is not None:
        filters.add(DATE_BUCKETS[when], "date")
    if price_min is not None:
        filters.add("e.price >= %(price_min)s", "price", price_min=price_min)
    if price_max is not None:
        filters.add("e.price <= %(price_max)s", "price", price_max=price_max)
    if free is not None:
        filters.add("e.price = 0" if free else "e.price > 0", "price")

    key = cache_key(request) + (f"#{point[0]},{point[1]}" if point and lat is None else "")

    async def render() -> bytes:
        async with connection(request) as conn:
            page = await _run_search(request, conn, terms, filters, point is not None, sort, paging)
        return bytes(respond(page).body)

    body = await response_cache(request).fetch(key, render)
    return Response(body, media_type="application/json")


def _facet_counts(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The (facet, value, count) rows of a search statement's answer: every row carries them,
    as text, so they are decoded once."""
    return orjson.loads(rows[0]["facets"])


def _total(facet_rows: list[list[Any]]) -> int:
    """The ``total`` of a search's facet counts."""
    return next(count for facet, _, count in facet_rows if facet == "total")


async def _run_search(
    request: Request,
    conn: Connection,
    terms: SearchTerms,
    filters: _Filters,
    with_distance: bool,
    sort: str,
    paging: Paging,
) -> dict[str, Any]:
    """Corrections, then the facets (with the total) and the page: one statement per level."""
    texts: QueryTexts | None = None
    if not terms.empty:
        texts = query_texts(terms, *await _corrections(request, conn, terms))
    params = {
        **filters.params,
        "any": texts.any if texts else "",
        "groups": list(texts.groups) if texts else [],
        "exact": list(texts.exact) if texts else [],
        "title": list(texts.title) if texts else [],
        "phrase": " ".join(terms.words),
        "limit": paging.limit,
        "offset": paging.offset,
    }
    if sort == "relevance":
        params.update(pool=max(RELEVANCE_POOL, paging.offset + paging.limit), pool_offset=0)
    else:
        params.update(pool=paging.limit, pool_offset=paging.offset, offset=0)
    sql = search_sql(
        base=filters.base(),
        facet_filters=filters.facet_filters(),
        match=MATCH if texts else "TRUE",
        sort=sort,
        with_scores=texts is not None,
        with_distance=with_distance,
    )
    # The strictest match that finds anything under the filters: every word, then all but one,
    # then any word. Full matches are not drowned by thousands of partial ones, the facets count
    # what was asked for, every page of a search has the same matches, and only a query that
    # nothing matches in full pays for the wider (costlier) levels.
    for level in [*(texts.levels if texts else ()), params["any"]]:
        cur = await conn.execute(sql, params | {"any": level})
        rows = await cur.fetchall()
        facet_rows = _facet_counts(rows)
        if _total(facet_rows):
            break
    facets: dict[str, list[dict[str, Any]]] = {facet: [] for facet in FACETS}
    for facet, value, count in facet_rows:
        if facet != "total" and count:
            facets[facet].append({"value": value, "count": count})
    for facet in ("category", "city"):
        facets[facet].sort(key=lambda item: (-item["count"], item["value"] or ""))
    # Start buckets and price bands: every one, in their own order, zero counts included.
    for facet, names in (("date", DATE_BUCKETS), ("price", PRICE_BANDS)):
        counts = {item["value"]: item["count"] for item in facets[facet]}
        facets[facet] = [{"value": name, "count": counts.get(name, 0)} for name in names]
    items = [
        {k: v for k, v in row.items() if k != "facets"} for row in rows if row["id"] is not None
    ]
    mode = "browse" if texts is None else ("fuzzy" if texts.corrected else "fulltext")
    return {
        "items": items,
        "total": _total(facet_rows),
        "limit": paging.limit,
        "offset": paging.offset,
        "mode": mode,
        "facets": facets,
    }


class EventSuggestion(BaseModel):
    id: int
    title: str
    starts_at: Any
    city: str | None


class CitySuggestion(BaseModel):
    city: str
    events: int = Field(description="Upcoming events there")


class OrganizerSuggestion(BaseModel):
    id: int
    name: str
    events: int = Field(description="Upcoming events")


class Suggestions(BaseModel):
    events: list[EventSuggestion]
    cities: list[CitySuggestion]
    organizers: list[OrganizerSuggestion]


@router.get("/suggest", response_model=Suggestions)
async def suggest(
    request: Request,
    q: Annotated[StorableStr, Query(min_length=1, max_length=100, description="What is typed")],
    limit: Annotated[int, Query(ge=1, le=20, description="Per kind")] = 5,
) -> object:
    """Autocomplete: upcoming events, cities and organisers whose name has a word starting
    with ``q`` (names starting with it first). Answered from the worker's index of the names,
    which follows the catalogue within ten seconds."""
    typed = " ".join(q.split())
    if not typed:
        raise ApiError(422, "validation_error", "q is blank")
    suggestions: SuggestionIndex = request.app.state.suggestions
    found = await suggestions.suggest(lambda: connection(request), typed, limit, datetime.now(UTC))
    return respond(found)
