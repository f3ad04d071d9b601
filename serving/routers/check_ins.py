"""Check-in at the door: one attendee, or a list of them, marked as attended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StrictInt

from serving.check_in import check_in
from serving.common import MAX_BIGINT, EventId, respond
from serving.db import Connection
from serving.errors import ERROR_RESPONSES
from serving.security import CurrentPrincipal, Principal

router = APIRouter(prefix="/api/v1/events", tags=["check-in"], responses=ERROR_RESPONSES)

UserId = Annotated[StrictInt, Field(ge=1, le=MAX_BIGINT)]


class CheckInBatch(BaseModel):
    """Attendees of the event, by user id (a scanned ticket names its holder)."""

    user_ids: list[UserId] = Field(min_length=1, max_length=1000)


class CheckInResult(BaseModel):
    checked_in: list[int] = Field(description="Marked as attended by this request")
    already_checked_in: list[int] = Field(description="Attended already: nothing changed")


async def _check_in(
    conn: Connection, event_id: int, principal: Principal, user_ids: list[int]
) -> object:
    # The registrations' triggers announce each change to the workers' answer caches.
    return respond(await check_in(conn, event_id, principal, user_ids, datetime.now(UTC)))


@router.post("/{event_id}/check-ins", response_model=CheckInResult)
async def check_in_many(
    event_id: EventId,
    body: CheckInBatch,
    conn: Connection,
    principal: CurrentPrincipal,
) -> object:
    """Check a list of attendees in, all or none: a 422 names each that cannot be.

    For the event's organiser and admins, from a day before the start to a week after the end.
    """
    return await _check_in(conn, event_id, principal, sorted(set(body.user_ids)))


@router.post("/{event_id}/registrations/{user_id}/check-in", response_model=CheckInResult)
async def check_in_one(
    event_id: EventId,
    user_id: Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The attendee")],
    conn: Connection,
    principal: CurrentPrincipal,
) -> object:
    """Check one attendee in; checking in again changes nothing."""
    return await _check_in(conn, event_id, principal, [user_id])
