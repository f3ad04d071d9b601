"""Registrations: register, cancel and list, never exceeding an event's capacity.

Every change to an event's registrations runs in a transaction that first locks the event's row
(:func:`serving.events.lock_for_places`), so concurrent requests for one event are decided one
at a time against an exact count: a full event waitlists, and cancelling a confirmed place
promotes the first waitlisted user in the same transaction. Waitlist positions follow the order
in which registrations won that lock. Registering twice returns the existing registration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, Field, StrictInt

from serving.answer_cache import recommendation_answers
from serving.common import (
    AFTER_MARK,
    MAX_BIGINT,
    CursorPageInfo,
    CursorQuery,
    EventId,
    Keyset,
    PagingDep,
    fetch_page,
    respond,
)
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, ApiError, forbidden, not_found
from serving.events import (
    can_manage,
    load_visible_event,
    lock_for_places,
    places_taken,
    promote_waitlisted,
    waitlist_position,
)
from serving.security import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["registrations"], responses=ERROR_RESPONSES)

REGISTRATION_COLUMNS = "r.id, r.user_id, r.event_id, r.status, r.created_at, r.updated_at"

REGISTRATION_SQL = f"""
    SELECT {REGISTRATION_COLUMNS} FROM app.registrations r
    WHERE r.user_id = %(user_id)s AND r.event_id = %(event_id)s"""

# A cancelled registration is revived at the back of the queue.
UPSERT_REGISTRATION_SQL = f"""
    INSERT INTO app.registrations AS r (user_id, event_id, status)
    VALUES (%(user_id)s, %(event_id)s, %(status)s)
    ON CONFLICT (user_id, event_id) DO UPDATE
        SET status = EXCLUDED.status, created_at = now(), updated_at = now(),
            queue_order = nextval('app.registration_queue_seq')
        WHERE r.status = 'cancelled'
    RETURNING {REGISTRATION_COLUMNS}"""

CANCEL_REGISTRATION_SQL = f"""
    UPDATE app.registrations AS r SET status = 'cancelled', updated_at = now()
    WHERE r.user_id = %(user_id)s AND r.event_id = %(event_id)s
    RETURNING {REGISTRATION_COLUMNS}"""

LIST_EVENT_REGISTRATIONS_SQL = f"""
    SELECT {REGISTRATION_COLUMNS}, r.queue_order AS _queue_order FROM app.registrations r
    WHERE {AFTER_MARK} r.event_id = %(event_id)s
      AND (%(status)s::text IS NULL OR r.status = %(status)s)
      AND (%(user_id)s::bigint IS NULL OR r.user_id = %(user_id)s)
    ORDER BY r.queue_order LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_EVENT_REGISTRATIONS_SQL = """
    SELECT count(*) AS total FROM app.registrations r
    WHERE r.event_id = %(event_id)s
      AND (%(status)s::text IS NULL OR r.status = %(status)s)
      AND (%(user_id)s::bigint IS NULL OR r.user_id = %(user_id)s)"""

LIST_USER_REGISTRATIONS_SQL = f"""
    SELECT {REGISTRATION_COLUMNS} FROM app.registrations r
    WHERE {AFTER_MARK} r.user_id = %(user_id)s
      AND (%(status)s::text IS NULL OR r.status = %(status)s)
    ORDER BY r.created_at DESC, r.id DESC LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_USER_REGISTRATIONS_SQL = """
    SELECT count(*) AS total FROM app.registrations r
    WHERE r.user_id = %(user_id)s AND (%(status)s::text IS NULL OR r.status = %(status)s)"""

# The orders these lists are paged by cursor in: the queue, and the newest first.
EVENT_REGISTRATIONS_ORDER = Keyset("queue", (("r.queue_order", "_queue_order", "bigint", False),))
USER_REGISTRATIONS_ORDER = Keyset(
    "newest",
    (("r.created_at", "created_at", "timestamptz", True), ("r.id", "id", "bigint", True)),
)

RegistrationStatus = Literal["confirmed", "waitlisted", "cancelled", "attended"]
UserId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="User id")]


class RegistrationIn(BaseModel):
    user_id: Annotated[StrictInt, Field(ge=1, le=MAX_BIGINT)] | None = Field(
        default=None, description="Admins and the service client may register someone else."
    )


class RegistrationOut(BaseModel):
    id: int
    user_id: int
    event_id: int
    status: RegistrationStatus
    created_at: datetime
    updated_at: datetime
    waitlist_position: int | None = None


class RegistrationPage(CursorPageInfo):
    items: list[RegistrationOut]


async def _with_position(conn: Connection, registration: dict[str, Any]) -> dict[str, Any]:
    registration["waitlist_position"] = None
    if registration["status"] == "waitlisted":
        registration["waitlist_position"] = await waitlist_position(conn, registration)
    return registration


@router.post(
    "/events/{event_id}/registrations",
    response_model=RegistrationOut,
    status_code=201,
    responses={200: {"model": RegistrationOut, "description": "Already registered"}},
)
async def register(
    request: Request,
    event_id: EventId,
    conn: Connection,
    principal: CurrentPrincipal,
    body: Annotated[RegistrationIn | None, Body()] = None,
) -> object:
    """Take a place, or a waitlist spot when the event is full; 200 if already registered."""
    user_id = body.user_id if body and body.user_id else principal.user_id
    if user_id is None:
        raise ApiError(422, "validation_error", "user_id is required with a service token")
    if not principal.may_act_for(user_id):
        raise forbidden("users register themselves only")
    async with conn.transaction():
        event = await lock_for_places(conn, event_id, principal)
        if event["status"] != "published" or not event["upcoming"]:
            raise ApiError(409, "registration_closed", "the event is not open for registration")
        params = {"user_id": user_id, "event_id": event_id}
        cur = await conn.execute(REGISTRATION_SQL, params)
        existing = await cur.fetchone()
        if existing is not None and existing["status"] != "cancelled":
            return respond(await _with_position(conn, existing), status_code=200)
        taken = await places_taken(conn, event_id)
        status = "confirmed" if taken < event["capacity"] else "waitlisted"
        try:
            cur = await conn.execute(UPSERT_REGISTRATION_SQL, {**params, "status": status})
        except psycopg.errors.ForeignKeyViolation:
            raise ApiError(422, "unknown_user", "user_id is not a user") from None
        registration = await cur.fetchone()
        assert registration is not None
        registration = await _with_position(conn, registration)
    answers = recommendation_answers(request)
    answers.user_changed(user_id)
    if status == "confirmed":
        answers.event_filled(event_id)
    return respond(registration, status_code=201)


@router.delete("/events/{event_id}/registrations/{user_id}", response_model=RegistrationOut)
async def cancel_registration(
    request: Request,
    event_id: EventId,
    user_id: UserId,
    conn: Connection,
    principal: CurrentPrincipal,
) -> object:
    """Give a place up; the first waitlisted user takes it. Cancelling twice is harmless."""
    async with conn.transaction():
        event = await lock_for_places(conn, event_id, principal)
        if not (principal.may_act_for(user_id) or can_manage(principal, event)):
            raise forbidden("users cancel their own registrations only")
        params = {"user_id": user_id, "event_id": event_id}
        cur = await conn.execute(REGISTRATION_SQL, params)
        existing = await cur.fetchone()
        if existing is None:
            raise not_found("registration")
        if existing["status"] == "cancelled":
            return respond(await _with_position(conn, existing))
        cur = await conn.execute(CANCEL_REGISTRATION_SQL, params)
        cancelled = await cur.fetchone()
        assert cancelled is not None
        if existing["status"] == "confirmed":
            await promote_waitlisted(conn, event_id, event["capacity"])
    answers = recommendation_answers(request)
    answers.user_changed(user_id)
    if existing["status"] in ("confirmed", "attended"):
        # A place freed can bring the event back into anyone's answers.
        answers.everything_changed()
    return respond(await _with_position(conn, cancelled))


@router.get("/events/{event_id}/registrations", response_model=RegistrationPage)
async def list_event_registrations(
    event_id: EventId,
    conn: Connection,
    principal: CurrentPrincipal,
    paging: PagingDep,
    status: RegistrationStatus | None = None,
    cursor: CursorQuery = None,
) -> object:
    """The organiser, admins and the service client see everyone; a user sees their own.

    In queue order (the waitlist's); pages by ``offset`` or ``cursor``.
    """
    event = await load_visible_event(conn, event_id, principal)
    only_user = None if can_manage(principal, event) else principal.user_id
    params = {"event_id": event_id, "status": status, "user_id": only_user}
    return respond(
        await fetch_page(
            conn,
            LIST_EVENT_REGISTRATIONS_SQL,
            COUNT_EVENT_REGISTRATIONS_SQL,
            params,
            paging,
            EVENT_REGISTRATIONS_ORDER,
            cursor,
        )
    )


@router.get("/users/{user_id}/registrations", response_model=RegistrationPage, tags=["users"])
async def list_user_registrations(
    user_id: UserId,
    conn: Connection,
    principal: CurrentPrincipal,
    paging: PagingDep,
    status: RegistrationStatus | None = None,
    cursor: CursorQuery = None,
) -> object:
    """A user's registrations, newest first; private to the user, admins and the service.

    Pages by ``offset`` or ``cursor``.
    """
    if not principal.may_act_for(user_id):
        raise forbidden("registrations are private to their user")
    params = {"user_id": user_id, "status": status}
    return respond(
        await fetch_page(
            conn,
            LIST_USER_REGISTRATIONS_SQL,
            COUNT_USER_REGISTRATIONS_SQL,
            params,
            paging,
            USER_REGISTRATIONS_ORDER,
            cursor,
        )
    )
