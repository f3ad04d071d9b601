"""Events: list, read, create, update and cancel, with ownership and optimistic concurrency.

Organisers manage their own events, admins and the service client every event. Each change bumps
``version``; clients send it back in ``If-Match`` (the ``ETag`` of a read) or in the body, and a
stale version is refused with 412 instead of silently overwriting someone else's change.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Header, Query, Request
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator
from starlette.responses import Response

from core.contracts import EVENT_STATUSES
from serving.answer_cache import recommendation_answers
from serving.cache import cache_key, response_cache
from serving.common import (
    EVENT_COLUMNS,
    MAX_BIGINT,
    EventId,
    EventOut,
    PageInfo,
    PagingDep,
    respond,
)
from serving.db import Connection, connection
from serving.errors import ERROR_RESPONSES, ApiError, forbidden, not_found
from serving.security import CurrentPrincipal, OptionalPrincipal, Principal
from serving.text import NoNulStr

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ERROR_RESPONSES)

EventStatus = Literal["draft", "published", "cancelled", "completed"]
assert set(EventStatus.__args__) == set(EVENT_STATUSES)

# Which status may follow which; cancelling and completing are final.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"published", "cancelled"}),
    "published": frozenset({"cancelled", "completed"}),
    "cancelled": frozenset(),
    "completed": frozenset(),
}

MAX_PRICE = 99_999_999.99  # numeric(10, 2)

EVENT_BY_ID_SQL = f"SELECT {EVENT_COLUMNS} FROM app.events e WHERE e.id = %(id)s"
EVENT_FOR_UPDATE_SQL = EVENT_BY_ID_SQL + " FOR UPDATE"

INSERT_EVENT_SQL = f"""
    INSERT INTO app.events AS e (title, description, category, tags, starts_at, ends_at,
        venue_name, city, lat, lng, capacity, price, currency, organizer_id, status)
    VALUES (%(title)s, %(description)s, %(category)s, %(tags)s, %(starts_at)s, %(ends_at)s,
        %(venue_name)s, %(city)s, %(lat)s, %(lng)s, %(capacity)s, %(price)s, %(currency)s,
        %(organizer_id)s, %(status)s)
    RETURNING {EVENT_COLUMNS}"""

RESYNC_EVENT_ID_SQL = """
    SELECT setval(pg_get_serial_sequence('app.events', 'id'),
                  greatest((SELECT max(id) FROM app.events), 1))"""

# Columns a PATCH may set; the SET clause is assembled from this list only.
UPDATABLE_COLUMNS = (
    "title",
    "description",
    "category",
    "tags",
    "starts_at",
    "ends_at",
    "venue_name",
    "city",
    "lat",
    "lng",
    "capacity",
    "price",
    "currency",
    "status",
)

# Places freed (a cancellation, a larger capacity) go to the earliest waitlisted users.
PROMOTE_WAITLISTED_SQL = """
    UPDATE app.registrations AS r SET status = 'confirmed', updated_at = now()
    WHERE r.id IN (SELECT w.id FROM app.registrations w
                   WHERE w.event_id = %(event_id)s AND w.status = 'waitlisted'
                   ORDER BY w.created_at, w.id LIMIT %(places)s)
    RETURNING r.id"""

CONFIRMED_COUNT_SQL = """
    SELECT count(*) AS confirmed FROM app.registrations
    WHERE event_id = %(event_id)s AND status IN ('confirmed', 'attended')"""

LIST_EVENTS_SQL = """
    SELECT {columns} FROM app.events e WHERE {where}
    ORDER BY e.starts_at, e.id LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_EVENTS_SQL = "SELECT count(*) AS total FROM app.events e WHERE {where}"

Title = Annotated[NoNulStr, Field(min_length=1, max_length=200)]
Description = Annotated[NoNulStr, Field(max_length=10_000)]
Category = Annotated[NoNulStr, Field(min_length=1, max_length=50)]
Tags = Annotated[
    list[Annotated[NoNulStr, Field(min_length=1, max_length=50)]], Field(max_length=30)
]
Place = Annotated[NoNulStr, Field(min_length=1, max_length=200)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lng = Annotated[float, Field(ge=-180, le=180)]
Capacity = Annotated[int, Field(ge=0, le=1_000_000)]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]


class EventIn(BaseModel):
    """A new event; times must carry a time zone, and it must end after it starts."""

    title: Title
    description: Description = ""
    category: Category
    tags: Tags = Field(default_factory=list)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    venue_name: Place | None = None
    city: Place | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    capacity: Capacity
    price: Price = 0
    currency: Currency = "EUR"
    status: Literal["draft", "published"] = "draft"
    organizer_id: Annotated[int, Field(ge=1, le=MAX_BIGINT)] | None = Field(
        default=None, description="Admins and the service client may create for an organiser."
    )

    @field_validator("title", "category")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> EventIn:
        _check_consistency(self.model_dump())
        return self


class EventPatch(BaseModel):
    """Fields to change; absent fields stay as they are. ``version`` guards like ``If-Match``."""

    title: Title | None = None
    description: Description | None = None
    category: Category | None = None
    tags: Tags | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    venue_name: Place | None = None
    city: Place | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    capacity: Capacity | None = None
    price: Price | None = None
    currency: Currency | None = None
    status: EventStatus | None = None
    version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None

    @field_validator("title", "category")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


class EventPage(PageInfo):
    items: list[EventOut]


def _check_consistency(event: dict[str, Any]) -> None:
    """Rules across fields, checked on creation and on the merged result of a change."""
    if event["ends_at"] <= event["starts_at"]:
        raise ApiError(422, "validation_error", "ends_at must be after starts_at")
    if (event["lat"] is None) != (event["lng"] is None):
        raise ApiError(422, "validation_error", "lat and lng go together")


def etag(event: dict[str, Any]) -> str:
    return f'"{event["version"]}"'


_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


def expected_version(if_match: str | None, body_version: int | None) -> int | None:
    """The version the client last saw, from ``If-Match`` or the body; ``None`` for any."""
    if if_match is not None and if_match.strip() != "*":
        found = _IF_MATCH.match(if_match)
        if not found:
            raise ApiError(400, "bad_if_match", 'If-Match must be an ETag such as "3"')
        return int(found.group(1))
    return body_version


def can_manage(principal: Principal, event: dict[str, Any]) -> bool:
    return principal.is_privileged or (
        principal.role == "organizer" and event["organizer_id"] == principal.user_id
    )


def can_see(principal: Principal | None, event: dict[str, Any]) -> bool:
    """Drafts are private to their organiser (and admins); everything else is public."""
    if event["status"] != "draft":
        return True
    return principal is not None and can_manage(principal, event)


async def load_visible_event(
    conn: Connection, event_id: int, principal: Principal | None
) -> dict[str, Any]:
    cur = await conn.execute(EVENT_BY_ID_SQL, {"id": event_id})
    event = await cur.fetchone()
    if event is None or not can_see(principal, event):
        raise not_found("event")
    return event


def _may_list_drafts(principal: Principal | None, organizer_id: int | None) -> bool:
    if principal is None:
        return False
    return principal.is_privileged or (
        organizer_id is not None and principal.user_id == organizer_id
    )


@router.get("", response_model=EventPage)
async def list_events(
    request: Request,
    paging: PagingDep,
    principal: OptionalPrincipal,
    category: Annotated[NoNulStr | None, Query(max_length=50)] = None,
    city: Annotated[NoNulStr | None, Query(max_length=200)] = None,
    status: EventStatus = "published",
    organizer_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    include_past: bool = False,
) -> object:
    """Events by start time; by default published and upcoming. Drafts: own or admin only."""
    if status == "draft" and not _may_list_drafts(principal, organizer_id):
        raise forbidden("drafts are listed for their organiser only (pass organizer_id)")
    # Public listings are the same for every caller: micro-cached (see ``serving.cache``).
    where = ["e.status = %(status)s"]
    params: dict[str, Any] = {"status": status, "limit": paging.limit, "offset": paging.offset}
    if not include_past:
        where.append("e.starts_at >= now()")
    if category is not None:
        where.append("e.category = %(category)s")
        params["category"] = category
    if city is not None:
        where.append("e.city = %(city)s")
        params["city"] = city
    if organizer_id is not None:
        where.append("e.organizer_id = %(organizer_id)s")
        params["organizer_id"] = organizer_id
    condition = " AND ".join(where)

    async def render() -> bytes:
        async with connection(request) as conn, conn.pipeline():
            items_cur = await conn.execute(
                LIST_EVENTS_SQL.format(columns=EVENT_COLUMNS, where=condition), params
            )
            count_cur = await conn.execute(COUNT_EVENTS_SQL.format(where=condition), params)
            items = await items_cur.fetchall()
            total = (await count_cur.fetchone())["total"]  # type: ignore[index]
        page = {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}
        return bytes(respond(page).body)

    if status == "draft":
        body = await render()
    else:
        body = await response_cache(request).fetch(cache_key(request), render)
    return Response(body, media_type="application/json")


@router.get("/{event_id}", response_model=EventOut)
async def get_event(event_id: EventId, conn: Connection, principal: OptionalPrincipal) -> object:
    """One event, with its version as ``ETag`` for a later conditional update."""
    event = await load_visible_event(conn, event_id, principal)
    return respond(event, headers={"ETag": etag(event)})


@router.post("", response_model=EventOut, status_code=201)
async def create_event(body: EventIn, conn: Connection, principal: CurrentPrincipal) -> object:
    """Organisers create events of their own; admins and the service client for anyone."""
    if principal.role not in ("organizer", "admin", "service"):
        raise forbidden("only organisers create events")
    params = body.model_dump()
    if principal.role == "organizer":
        if body.organizer_id not in (None, principal.user_id):
            raise forbidden("organisers create events for themselves only")
        params["organizer_id"] = principal.user_id
    elif params["organizer_id"] is None:
        params["organizer_id"] = principal.user_id
    event = None
    for attempt in range(2):
        try:
            async with conn.transaction():
                cur = await conn.execute(INSERT_EVENT_SQL, params)
                event = await cur.fetchone()
            break
        except psycopg.errors.UniqueViolation:
            if attempt:
                raise
            await conn.execute(RESYNC_EVENT_ID_SQL)
        except psycopg.errors.ForeignKeyViolation:
            raise ApiError(422, "unknown_organizer", "organizer_id is not a user") from None
    assert event is not None
    return respond(
        event,
        status_code=201,
        headers={"ETag": etag(event), "Location": f"/api/v1/events/{event['id']}"},
    )


async def _update(
    request: Request,
    conn: Connection,
    event_id: int,
    principal: Principal,
    changes: dict[str, Any],
    version: int | None,
) -> dict[str, Any]:
    """Apply ``changes`` atomically after checking ownership, version and the merged event."""
    async with conn.transaction():
        cur = await conn.execute(EVENT_FOR_UPDATE_SQL, {"id": event_id})
        current = await cur.fetchone()
        if current is None or not can_see(principal, current):
            raise not_found("event")
        if not can_manage(principal, current):
            raise forbidden("only the organiser or an admin may change this event")
        if version is not None and version != current["version"]:
            raise ApiError(
                412,
                "version_mismatch",
                "the event changed since it was read",
                details={"current_version": current["version"]},
            )
        new_status = changes.get("status", current["status"])
        if new_status != current["status"] and new_status not in STATUS_TRANSITIONS.get(
            current["status"], frozenset()
        ):
            raise ApiError(
                409,
                "invalid_transition",
                f"status cannot go from {current['status']} to {new_status}",
            )
        changes = {k: v for k, v in changes.items() if k in UPDATABLE_COLUMNS}
        if not changes:
            return current
        _check_consistency({**current, **changes})
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        cur = await conn.execute(
            f"""UPDATE app.events AS e SET {assignments}, version = e.version + 1,
                       updated_at = now()
                WHERE e.id = %(id)s RETURNING {EVENT_COLUMNS}""",
            {**changes, "id": event_id},
        )
        updated = await cur.fetchone()
        assert updated is not None
        if updated["capacity"] > current["capacity"]:
            await promote_waitlisted(conn, event_id, updated["capacity"])
    recommendation_answers(request).everything_changed()
    return updated


async def promote_waitlisted(conn: Connection, event_id: int, capacity: int) -> None:
    """Fill free places from the waitlist; the caller holds the event's row lock."""
    cur = await conn.execute(CONFIRMED_COUNT_SQL, {"event_id": event_id})
    confirmed = (await cur.fetchone())["confirmed"]  # type: ignore[index]
    places = capacity - confirmed
    if places > 0:
        await conn.execute(PROMOTE_WAITLISTED_SQL, {"event_id": event_id, "places": places})


@router.patch("/{event_id}", response_model=EventOut, responses={412: ERROR_RESPONSES[412]})
async def update_event(
    request: Request,
    event_id: EventId,
    body: EventPatch,
    conn: Connection,
    principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=100)] = None,
) -> object:
    """Change some fields; send the ``ETag`` back in ``If-Match`` to avoid lost updates."""
    version = expected_version(if_match, body.version)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    nullable = {"venue_name", "city", "lat", "lng"}
    for column, value in list(changes.items()):
        if value is None and column not in nullable:
            raise ApiError(422, "validation_error", f"{column} cannot be null")
    event = await _update(request, conn, event_id, principal, changes, version)
    return respond(event, headers={"ETag": etag(event)})


@router.delete("/{event_id}", response_model=EventOut, responses={412: ERROR_RESPONSES[412]})
async def cancel_event(
    request: Request,
    event_id: EventId,
    conn: Connection,
    principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=100)] = None,
) -> object:
    """Cancel (soft delete): the event stays for history, registrations and the marts."""
    version = expected_version(if_match, None)
    cur = await conn.execute(EVENT_BY_ID_SQL, {"id": event_id})
    current = await cur.fetchone()
    if current is not None and current["status"] == "cancelled" and can_manage(principal, current):
        return respond(current, headers={"ETag": etag(current)})  # already cancelled: idempotent
    event = await _update(request, conn, event_id, principal, {"status": "cancelled"}, version)
    return respond(event, headers={"ETag": etag(event)})
