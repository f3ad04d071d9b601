"""Recommendations read from what batch scoring published in ``serving.*``.

Each answer is one query: the precomputed rows joined with the events, filtered at read time
(events that are past, cancelled, full, or that the user registered for or dismissed since the
batch ran). It returns ids and row versions only; the events themselves are rendered once per
version and worker (:mod:`serving.fragment_cache`), so a second query runs only for events that
are new to the worker or changed. Users without a precomputed set, or whose set runs dry, get
popular events: in their home city, then in their interests, then globally. Each worker keeps
the answers it computed until what they show changes (:mod:`serving.answer_cache`).

The batch job swaps these tables by renaming fresh copies; the queries name the tables, never
their OIDs, so a swap under load only makes PostgreSQL re-plan a prepared statement.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from psycopg.rows import tuple_row
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.contracts import CURATION_RECOMMENDABLE
from serving.answer_cache import AnswerCache
from serving.common import (
    EVENT_COLUMNS,
    EVENT_RENDER_VERSION,
    MAX_BIGINT,
    EventId,
    EventOut,
    parse_query,
    query_parameters,
    respond,
)
from serving.db import Connection, connection
from serving.errors import ERROR_RESPONSES, ApiError, forbidden, not_found
from serving.events import load_visible_event
from serving.follows import FOLLOWS_MODEL, interleave_followed
from serving.fragment_cache import EventFragments
from serving.security import BEARER_REQUIRED, OptionalPrincipal, require_authenticated
from serving.text import StorableStr

JSON = "application/json"

router = APIRouter(
    prefix="/api/v1/recommendations", tags=["recommendations"], responses=ERROR_RESPONSES
)

# Conditions an event must still meet when it is shown; ``e`` is the event, ``%(user_id)s`` the
# user. Full: the places taken (kept per event by the triggers of migration 0015) reach the
# capacity. Duplicates, rejected and low-quality listings (curation) are never recommended.
RECOMMENDABLE = (
    """
    e.status = 'published' AND e.starts_at > now()
    AND (%(category)s::text IS NULL OR e.category = %(category)s)
    AND e.capacity > coalesce((SELECT p.taken FROM app.event_places p
                               WHERE p.event_id = e.id), 0)
    AND NOT EXISTS (SELECT 1 FROM app.registrations g
                    WHERE g.user_id = %(user_id)s AND g.event_id = e.id
                      AND g.status <> 'cancelled')
    AND NOT EXISTS (SELECT 1 FROM app.interactions d
                    WHERE d.user_id = %(user_id)s AND d.event_id = e.id AND d.type = 'dismiss')
    AND NOT EXISTS (SELECT 1 FROM app.recommendation_feedback f
                    WHERE f.user_id = %(user_id)s AND f.event_id = e.id
                      AND f.action IN ('dismiss', 'dislike'))
    AND """
    + CURATION_RECOMMENDABLE
)

# Both recommendation queries return the event id and its rendering's version (row versions
# change with every write, whoever makes it) instead of the event's columns: the event itself
# comes from the worker's cache of rendered events (:mod:`serving.fragment_cache`).
RECOMMENDATION_COLUMNS = f"e.id, {EVENT_RENDER_VERSION} AS row_version"

PERSONAL_RECOMMENDATIONS_SQL = f"""
    SELECT {RECOMMENDATION_COLUMNS}, r.score::float8 AS score,
           coalesce(r.reason, 'recommended for you') AS reason, r.model_version
    FROM serving.user_recommendations r
    JOIN app.events e ON e.id = r.event_id
    WHERE r.user_id = %(user_id)s AND {RECOMMENDABLE}
    ORDER BY r.rank
    LIMIT %(limit)s"""

# Popular events for a user: home city first, then the asked or interesting categories, then
# everywhere.
# ``%(exclude)s`` holds the ids already recommended, when topping up a short personal list.
POPULAR_FOR_USER_SQL = f"""
    WITH profile AS (
        SELECT home_city, interests FROM app.users WHERE id = %(user_id)s
    ), candidates AS (
        SELECT p.event_id, p.score, p.rank, p.model_version, 1 AS tier,
               'popular in ' || p.scope_value AS reason
        FROM serving.popular_events p JOIN profile u ON p.scope_value = u.home_city
        WHERE p.scope = 'city'
        UNION ALL
        SELECT p.event_id, p.score, p.rank, p.model_version, 2 AS tier,
               'popular in ' || p.scope_value AS reason
        FROM serving.popular_events p
        WHERE p.scope = 'category'
          AND (p.scope_value = %(category)s
               OR p.scope_value = ANY (coalesce((SELECT interests FROM profile), '{{}}')))
        UNION ALL
        SELECT p.event_id, p.score, p.rank, p.model_version, 3 AS tier,
               'popular right now' AS reason
        FROM serving.popular_events p
        WHERE p.scope = 'global' AND p.scope_value = ''
    ), best AS (
        SELECT DISTINCT ON (event_id) * FROM candidates
        WHERE event_id <> ALL (%(exclude)s::bigint[])
        ORDER BY event_id, tier, rank
    )
    SELECT {RECOMMENDATION_COLUMNS}, b.score::float8 AS score, b.reason, b.model_version
    FROM best b JOIN app.events e ON e.id = b.event_id
    WHERE {RECOMMENDABLE}
    ORDER BY b.tier, b.rank, e.id
    LIMIT %(limit)s"""

# A row of NULLs after the answer when the user does not exist: the first query of an answer
# tells an unknown user (404) from one without recommendations in the same round trip.
UNKNOWN_USER_MARK = """
    UNION ALL
    SELECT NULL::bigint, NULL::text, NULL::float8, NULL::text, NULL::text
    WHERE NOT EXISTS (SELECT 1 FROM app.users WHERE id = %(user_id)s)"""
# The next events of the organisers the user follows (see :mod:`serving.follows`), read in the
# same round trip as the personal set; most users follow nobody, and pay one index probe.
FOLLOWED_EVENTS_SQL = f"""
    SELECT {RECOMMENDATION_COLUMNS}, 0::float8 AS score,
           'from ' || coalesce(o.name, 'an organiser') || ', whom you follow' AS reason,
           '{FOLLOWS_MODEL}' AS model_version
    FROM app.organizer_follows f
    JOIN app.users o ON o.id = f.organizer_id
    JOIN app.events e ON e.organizer_id = f.organizer_id
    WHERE f.user_id = %(user_id)s AND {RECOMMENDABLE}
    ORDER BY e.starts_at, e.id
    LIMIT %(limit)s"""
FIRST_PERSONAL_SQL = (
    f"({PERSONAL_RECOMMENDATIONS_SQL}) UNION ALL ({FOLLOWED_EVENTS_SQL}) {UNKNOWN_USER_MARK}"
)
FIRST_POPULAR_SQL = f"({POPULAR_FOR_USER_SQL}) {UNKNOWN_USER_MARK}"

SIMILAR_EVENTS_SQL = f"""
    SELECT {EVENT_COLUMNS}, s.score::float8 AS score, s.model_version
    FROM serving.similar_events s
    JOIN app.events e ON e.id = s.similar_event_id
    WHERE s.event_id = %(event_id)s AND e.status = 'published' AND e.starts_at > now()
      AND {CURATION_RECOMMENDABLE}
    ORDER BY s.rank
    LIMIT %(limit)s"""

# Content neighbours for an event the batch has not seen yet: shared tags, same category and
# city, and closeness in time, scored in SQL over upcoming published events.
CONTENT_SIMILAR_SQL = f"""
    WITH target AS (SELECT category, tags, city, starts_at FROM app.events WHERE id = %(event_id)s)
    SELECT {EVENT_COLUMNS},
           (cardinality(ARRAY(SELECT unnest(e.tags) INTERSECT SELECT unnest(t.tags)))::float8
              / greatest(cardinality(t.tags), 1)
            + CASE WHEN e.category = t.category THEN 1.0 ELSE 0.0 END
            + CASE WHEN e.city IS NOT DISTINCT FROM t.city THEN 0.5 ELSE 0.0 END) / 2.5
           AS score,
           'content' AS model_version
    FROM app.events e, target t
    WHERE e.id <> %(event_id)s AND e.status = 'published' AND e.starts_at > now()
      AND (e.category = t.category OR e.tags && t.tags) AND {CURATION_RECOMMENDABLE}
    ORDER BY score DESC, abs(extract(epoch FROM e.starts_at - t.starts_at)), e.id
    LIMIT %(limit)s"""


class RecommendedEvent(EventOut):
    score: float
    reason: str
    model_version: str


class Recommendations(BaseModel):
    user_id: int
    model_version: str | None
    source: Literal["personalized", "popular", "mixed", "none"]
    recommendations: list[RecommendedEvent]


class SimilarEvent(EventOut):
    score: float
    model_version: str


class SimilarEvents(BaseModel):
    event_id: int
    model_version: str | None
    similar_events: list[SimilarEvent]


class RecommendationQuery(BaseModel):
    """The query string of ``GET /recommendations/events``."""

    user_id: Annotated[int, Field(ge=1, le=MAX_BIGINT)] | None = Field(
        default=None, description="Whose recommendations; default: the caller"
    )
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    algorithm: Literal["auto", "personalized", "popular"] = "auto"
    category: Annotated[StorableStr, Field(min_length=1, max_length=50)] | None = None


@router.get(
    "/events",
    response_model=Recommendations,
    openapi_extra={
        "parameters": query_parameters(RecommendationQuery),
        "security": BEARER_REQUIRED,
    },
)
async def recommend_events(request: Request) -> object:
    """A user's recommendations; readable by that user, admins and the service client.

    The busiest authenticated read: it takes the bearer token and the query string itself
    rather than through per-parameter dependencies, which cost several times the database
    lookup; the parameters are documented from :class:`RecommendationQuery` all the same.
    """
    principal = await require_authenticated(request)
    query = parse_query(request, RecommendationQuery)
    user_id, limit, algorithm, category = (
        query.user_id,
        query.limit,
        query.algorithm,
        query.category,
    )
    if user_id is None:
        if principal.user_id is None:
            raise ApiError(422, "validation_error", "user_id is required with a service token")
        user_id = principal.user_id
    if not principal.may_act_for(user_id):
        raise forbidden("recommendations are private to their user")
    answers: AnswerCache = request.app.state.recommendation_answers
    key = (user_id, limit, algorithm, category)
    body = answers.get(key)
    if body is None:
        ticket = answers.ticket(user_id)
        body, event_ids, first_start = await _compute_answer(request, user_id, query)
        answers.put(
            key, ticket, user_id=user_id, body=body, event_ids=event_ids, first_start=first_start
        )
    return Response(body, media_type=JSON)


async def _compute_answer(
    request: Request, user_id: int, query: RecommendationQuery
) -> tuple[bytes, list[int], float]:
    """The answer's JSON, the events it shows and when the first of them starts (epoch s).

    One query in the common case (a personal set long enough, its events rendered already);
    a short personal set is topped up with popular events by a second one. An unknown user is
    a 404.
    """
    limit, algorithm = query.limit, query.algorithm
    params: dict[str, Any] = {
        "user_id": user_id,
        "limit": limit,
        "category": query.category,
        "exclude": [],
    }
    fragments: EventFragments = request.app.state.event_fragments
    # The hottest endpoint: the connection is taken inline rather than through a dependency.
    async with connection(request) as conn:
        cur = conn.cursor(row_factory=tuple_row)
        popular_only = algorithm == "popular"
        await cur.execute(FIRST_POPULAR_SQL if popular_only else FIRST_PERSONAL_SQL, params)
        rows: list[tuple[int, str, float, str, str]] = await cur.fetchall()
        if rows and rows[-1][0] is None:
            raise not_found("user")
        if not popular_only:
            followed = [row for row in rows if row[4] == FOLLOWS_MODEL]
            ranked = [row for row in rows if row[4] != FOLLOWS_MODEL]
            rows = interleave_followed(ranked, followed, limit)
        personal = 0 if popular_only else len(rows)
        if not popular_only and personal < limit and algorithm != "personalized":
            params.update(limit=limit - personal, exclude=[row[0] for row in rows])
            await cur.execute(POPULAR_FOR_USER_SQL, params)
            rows.extend(await cur.fetchall())
        if await fragments.ensure(conn, [(row[0], row[1]) for row in rows]):
            # Events are never deleted, but a row gone between the two reads is left out.
            kept = [fragments.has(row[0]) for row in rows]
            personal = sum(kept[:personal])
            rows = [row for row, keep in zip(rows, kept, strict=True) if keep]
    if not rows:
        source = "none"
    elif personal == len(rows):
        source = "personalized"
    else:
        source = "mixed" if personal else "popular"
    items = b",".join(
        fragments.render(event_id, {"score": score, "reason": reason, "model_version": mv})
        for event_id, _, score, reason, mv in rows
    )
    head = orjson.dumps(
        {
            "user_id": user_id,
            "model_version": next((row[4] for row in rows if row[4] != FOLLOWS_MODEL), None),
            "source": source,
        }
    )
    event_ids = [row[0] for row in rows]
    first_start = min((fragments.starts_at(event_id) for event_id in event_ids), default=math.inf)
    return head[:-1] + b',"recommendations":[' + items + b"]}", event_ids, first_start


@router.get("/events/{event_id}/similar", response_model=SimilarEvents)
async def similar_events(
    event_id: EventId,
    conn: Connection,
    principal: OptionalPrincipal,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> object:
    """Precomputed neighbours of an event; content similarity for events newer than the batch."""
    await load_visible_event(conn, event_id, principal)
    params = {"event_id": event_id, "limit": limit}
    cur = await conn.execute(SIMILAR_EVENTS_SQL, params)
    items = await cur.fetchall()
    if not items:
        cur = await conn.execute(CONTENT_SIMILAR_SQL, params)
        items = await cur.fetchall()
    return respond(
        {
            "event_id": event_id,
            "model_version": items[0]["model_version"] if items else None,
            "similar_events": items,
        }
    )
