"""Events: list, read, create, update and cancel, with ownership and optimistic concurrency.

Organisers manage their own events, admins and the service client every event (the rules are
in :mod:`serving.events`). Each change bumps ``version``; clients send it back in ``If-Match``
(the ``ETag`` of a read) or in the body, and a stale version is refused with 412 instead of
silently overwriting someone else's change.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import AfterValidator, BaseModel, Field, StrictFloat, StrictInt, field_validator

from core.contracts import EVENT_STATUSES
from core.time_zones import known_time_zone
from serving.answer_cache import recommendation_answers
from serving.common import (
    MAX_BIGINT,
    AttendanceMode,
    CursorQuery,
    DateTime,
    EventId,
    EventOut,
    PagingDep,
    respond,
)
from serving.curation import SOURCES_SQL
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, ApiError, forbidden
from serving.event_lists import EventFilters, EventPage, render_event_page
from serving.events import (
    IF_MATCH_PATTERN,
    create_event,
    etag,
    expected_version,
    load_visible_event,
    may_list_drafts,
    update_event,
)
from serving.http_cache import (
    PRIVATE_CACHING,
    PUBLIC_ITEM_CACHING,
    PUBLIC_LIST_CACHING,
    conditional,
)
from serving.security import (
    BEARER_OPTIONAL,
    CurrentPrincipal,
    OptionalPrincipal,
    authenticate,
)
from serving.text import STORABLE, StorableStr

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ERROR_RESPONSES)

EventStatus = Literal["draft", "published", "cancelled", "completed"]
assert set(EventStatus.__args__) == set(EVENT_STATUSES)

MAX_PRICE = 99_999_999.99  # numeric(10, 2)

IfMatch = Annotated[
    str | None,
    Header(
        max_length=100,
        pattern=IF_MATCH_PATTERN,
        description='The ETag of the last read, such as "3"; * or absent: any version',
    ),
]

# JSON Schema patterns match anywhere: "\\S" says "not blank" in the document.
Title = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S"), STORABLE]
Description = Annotated[StorableStr, Field(max_length=10_000)]
Category = Annotated[str, Field(min_length=1, max_length=50, pattern=r"\S"), STORABLE]
Tags = Annotated[
    list[Annotated[StorableStr, Field(min_length=1, max_length=50)]], Field(max_length=30)
]
Place = Annotated[StorableStr, Field(min_length=1, max_length=200)]
Lat = Annotated[StrictFloat, Field(ge=-90, le=90)]
Lng = Annotated[StrictFloat, Field(ge=-180, le=180)]
Capacity = Annotated[StrictInt, Field(ge=0, le=1_000_000)]
Price = Annotated[StrictFloat, Field(ge=0, le=MAX_PRICE)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
TimeZone = Annotated[
    str,
    Field(min_length=1, max_length=64, description="IANA time zone, such as Europe/Berlin"),
    AfterValidator(known_time_zone),
]
Url = Annotated[
    str,
    Field(max_length=2000, pattern=r"^https?://\S+$", description="An http(s) URL"),
    STORABLE,
]


def _stripped(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class EventIn(BaseModel):
    """A new event; times carry a time zone, it ends after it starts (within a year), it starts
    between now and five years ahead, and ``lat`` and ``lng`` go together."""

    title: Title
    description: Description = ""
    category: Category
    tags: Tags = Field(default_factory=list)
    starts_at: DateTime
    ends_at: DateTime
    timezone: TimeZone = Field(
        default="UTC", description="Where the event takes place; local times are given in it"
    )
    attendance_mode: AttendanceMode = "in_person"
    online_url: Url | None = Field(default=None, description="Required for online and hybrid")
    image_url: Url | None = None
    venue_name: Place | None = None
    city: Place | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    capacity: Capacity
    price: Price = 0
    currency: Currency = "EUR"
    status: Literal["draft", "published"] = "draft"
    organizer_id: Annotated[StrictInt, Field(ge=1, le=MAX_BIGINT)] | None = Field(
        default=None, description="Admins and the service client may create for an organiser."
    )

    _strip = field_validator("title", "category")(_stripped)


class EventPatch(BaseModel):
    """Fields to change; absent fields stay as they are, and only the place fields and the
    URLs may be set to null. ``version`` guards like ``If-Match``."""

    # Defaults of None are never validated: absent means unchanged, while null is refused.
    title: Title = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    category: Category = None  # type: ignore[assignment]
    tags: Tags = None  # type: ignore[assignment]
    starts_at: DateTime = None  # type: ignore[assignment]
    ends_at: DateTime = None  # type: ignore[assignment]
    timezone: TimeZone = None  # type: ignore[assignment]
    attendance_mode: AttendanceMode = None  # type: ignore[assignment]
    online_url: Url | None = None
    image_url: Url | None = None
    venue_name: Place | None = None
    city: Place | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    capacity: Capacity = None  # type: ignore[assignment]
    price: Price = None  # type: ignore[assignment]
    currency: Currency = None  # type: ignore[assignment]
    status: EventStatus = None  # type: ignore[assignment]
    version: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] = None  # type: ignore[assignment]

    _strip = field_validator("title", "category")(_stripped)


@router.get("", response_model=EventPage, openapi_extra={"security": BEARER_OPTIONAL})
async def list_events(
    request: Request,
    paging: PagingDep,
    category: Annotated[StorableStr | None, Query(max_length=50, description="Any case")] = None,
    city: Annotated[StorableStr | None, Query(max_length=200, description="Any case")] = None,
    status: EventStatus = "published",
    organizer_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    series_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    include_past: bool = False,
    sort: Literal["date", "price"] = "date",
    cursor: CursorQuery = None,
) -> object:
    """Events by start time (or price); by default published and upcoming.

    Drafts are listed for their organiser (``organizer_id`` = the caller) and admins only.
    Pages by ``offset`` or, stable while events are added, by ``cursor``.
    """
    if status == "draft":
        principal = await authenticate(request)
        if not may_list_drafts(principal, organizer_id):
            raise forbidden("drafts are listed for their organiser only (pass organizer_id)")
    # One listing per real event: duplicates and rejected listings stay reachable by id only.
    filters = EventFilters(status, category, city, organizer_id, series_id, include_past)
    body = await render_event_page(request, filters, paging, sort, cursor)
    caching = PRIVATE_CACHING if status == "draft" else PUBLIC_LIST_CACHING
    return conditional(request, body, cache_control=caching)


class ListingSource(BaseModel):
    event_id: int
    source_file: str | None = Field(description="The partner feed file the listing came in")
    external_id: str | None = Field(description="The partner's own id of the listing")


class EventDetail(EventOut):
    canonical_event_id: int = Field(
        description="The listing that stands for this real event (this one unless it is a "
        "duplicate of another feed's listing)"
    )
    sources: list[ListingSource] = Field(
        description="The other listings of the same real event, from other feeds"
    )


@router.get("/{event_id}", response_model=EventDetail)
async def get_event(
    request: Request, event_id: EventId, conn: Connection, principal: OptionalPrincipal
) -> object:
    """One event and the other feeds' listings of the same real event.

    Its ``ETag`` starts with the event's version: sent back in ``If-Match`` it guards a later
    update, in ``If-None-Match`` it answers 304 while the event reads the same.
    """
    event = await load_visible_event(conn, event_id, principal)
    listing = await (await conn.execute(SOURCES_SQL, {"id": event_id})).fetchone()
    assert listing is not None
    detail = {**event, "canonical_event_id": listing["canonical_id"], "sources": listing["sources"]}
    caching = PRIVATE_CACHING if event["status"] == "draft" else PUBLIC_ITEM_CACHING
    body = bytes(respond(detail).body)
    return conditional(request, body, cache_control=caching, version=event["version"])


@router.post("", response_model=EventOut, status_code=201)
async def post_event(body: EventIn, conn: Connection, principal: CurrentPrincipal) -> object:
    """Organisers create events of their own; admins and the service client for anyone.

    The start must lie between now and five years ahead.
    """
    event = await create_event(conn, principal, body.model_dump())
    return respond(
        event,
        status_code=201,
        headers={"ETag": etag(event), "Location": f"/api/v1/events/{event['id']}"},
    )


@router.patch("/{event_id}", response_model=EventOut)
async def patch_event(
    request: Request,
    event_id: EventId,
    body: EventPatch,
    conn: Connection,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> object:
    """Change some fields; send the ``ETag`` back in ``If-Match`` to avoid lost updates.

    A capacity below the places already taken is a 409; a larger one promotes the waitlist.
    """
    version = expected_version(if_match, body.version)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    event = await update_event(conn, event_id, principal, changes, version)
    recommendation_answers(request).everything_changed()
    return respond(event, headers={"ETag": etag(event)})


@router.delete("/{event_id}", response_model=EventOut)
async def cancel_event(
    request: Request,
    event_id: EventId,
    conn: Connection,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> object:
    """Cancel (soft delete): the event stays for history, registrations and the marts.

    Cancelling a cancelled event answers it again.
    """
    version = expected_version(if_match, None)
    current = await load_visible_event(conn, event_id, principal)
    if current["status"] == "cancelled":
        if version is not None and version != current["version"]:
            raise ApiError(
                412,
                "version_mismatch",
                "the event changed since it was read",
                details={"current_version": current["version"]},
            )
        return respond(current, headers={"ETag": etag(current)})
    event = await update_event(conn, event_id, principal, {"status": "cancelled"}, version)
    recommendation_answers(request).everything_changed()
    return respond(event, headers={"ETag": etag(event)})
