"""Organisers: a public profile with the next events, and following them.

An organiser is an account with the organiser role, or any account events are organised by (a
partner feed's organiser). Following one is a signal: the events of followed organisers join
the follower's recommendations (:mod:`serving.follows`), and the follow is carried to the marts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from core.contracts import CURATION_LISTED
from serving.common import EVENT_COLUMNS, MAX_BIGINT, EventOut, PageInfo, PagingDep, fetch_page
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, ApiError, not_found
from serving.http_cache import PRIVATE_CACHING, PUBLIC_ITEM_CACHING, conditional
from serving.responses import OrjsonResponse
from serving.security import BEARER_OPTIONAL, CurrentPrincipal, OptionalPrincipal, Principal

router = APIRouter(prefix="/api/v1/organizers", tags=["organizers"], responses=ERROR_RESPONSES)

OrganizerId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="Organiser (user) id")]

# How many of the next events a profile embeds; the rest are paged by /events?organizer_id=.
PROFILE_EVENTS = 10

UPCOMING = f"e.status = 'published' AND e.starts_at >= now() AND {CURATION_LISTED}"

ORGANIZER_SQL = f"""
    SELECT u.id, nullif(u.name, '') AS name,
           (SELECT count(*) FROM app.organizer_follows f WHERE f.organizer_id = u.id)
               AS followers,
           (SELECT count(*) FROM app.events e WHERE e.organizer_id = u.id AND {UPCOMING})
               AS upcoming_events_total
    FROM app.users u
    WHERE u.id = %(id)s
      AND (u.role = 'organizer' OR EXISTS (SELECT 1 FROM app.events e
                                           WHERE e.organizer_id = u.id))"""

ORGANIZER_EVENTS_SQL = f"""
    SELECT {EVENT_COLUMNS} FROM app.events e
    WHERE e.organizer_id = %(id)s AND {UPCOMING}
    ORDER BY e.starts_at, e.id LIMIT {PROFILE_EVENTS}"""

IS_FOLLOWING_SQL = """
    SELECT 1 FROM app.organizer_follows WHERE user_id = %(user_id)s AND organizer_id = %(id)s"""

FOLLOW_SQL = """
    INSERT INTO app.organizer_follows (user_id, organizer_id) VALUES (%(user_id)s, %(id)s)
    ON CONFLICT DO NOTHING"""
UNFOLLOW_SQL = """
    DELETE FROM app.organizer_follows WHERE user_id = %(user_id)s AND organizer_id = %(id)s"""

FOLLOWED_SQL = """
    SELECT u.id, nullif(u.name, '') AS name, f.created_at AS followed_at
    FROM app.organizer_follows f JOIN app.users u ON u.id = f.organizer_id
    WHERE f.user_id = %(user_id)s
    ORDER BY f.created_at DESC, u.id LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_FOLLOWED_SQL = (
    "SELECT count(*) AS total FROM app.organizer_follows WHERE user_id = %(user_id)s"
)


class OrganizerProfile(BaseModel):
    id: int
    name: str | None = Field(description="null once the organiser's account was deleted")
    followers: int = Field(description="Accounts following this organiser")
    upcoming_events_total: int
    upcoming_events: list[EventOut] = Field(
        description=f"The next {PROFILE_EVENTS}; page the rest with /events?organizer_id="
    )
    following: bool | None = Field(
        description="Whether the caller follows this organiser; null without a user token"
    )


class FollowState(BaseModel):
    organizer_id: int
    following: bool
    followers: int


class FollowedOrganizer(BaseModel):
    id: int
    name: str | None
    followed_at: datetime


class FollowedPage(PageInfo):
    items: list[FollowedOrganizer]


def _follower(principal: Principal) -> int:
    if principal.user_id is None:
        raise ApiError(422, "validation_error", "only user accounts follow organisers")
    return principal.user_id


async def _organizer(conn: Connection, organizer_id: int) -> dict[str, object]:
    found = await (await conn.execute(ORGANIZER_SQL, {"id": organizer_id})).fetchone()
    if found is None:
        raise not_found("organizer")
    return found


@router.get("/followed", response_model=FollowedPage)
async def followed_organizers(
    conn: Connection, principal: CurrentPrincipal, paging: PagingDep
) -> object:
    """The organisers the caller follows, the latest followed first."""
    params = {"user_id": _follower(principal)}
    page = await fetch_page(conn, FOLLOWED_SQL, COUNT_FOLLOWED_SQL, params, paging)
    return OrjsonResponse(page, headers={"Cache-Control": PRIVATE_CACHING})


@router.get(
    "/{organizer_id}",
    response_model=OrganizerProfile,
    openapi_extra={"security": BEARER_OPTIONAL},
)
async def organizer_profile(
    request: Request, organizer_id: OrganizerId, conn: Connection, principal: OptionalPrincipal
) -> object:
    """An organiser's public profile: name, followers and the next published events."""
    profile = dict(await _organizer(conn, organizer_id))
    cur = await conn.execute(ORGANIZER_EVENTS_SQL, {"id": organizer_id})
    profile["upcoming_events"] = await cur.fetchall()
    viewer = principal.user_id if principal is not None else None
    profile["following"] = None
    caching = PUBLIC_ITEM_CACHING
    if viewer is not None:
        params = {"user_id": viewer, "id": organizer_id}
        following = await (await conn.execute(IS_FOLLOWING_SQL, params)).fetchone()
        profile["following"] = following is not None
        caching = PRIVATE_CACHING
    body = OrjsonResponse(profile).body
    return conditional(request, bytes(body), cache_control=caching)


async def _follow_state(conn: Connection, organizer_id: int, following: bool) -> object:
    profile = await _organizer(conn, organizer_id)
    return OrjsonResponse(
        {"organizer_id": organizer_id, "following": following, "followers": profile["followers"]}
    )


@router.put("/{organizer_id}/follow", response_model=FollowState)
async def follow_organizer(
    organizer_id: OrganizerId, conn: Connection, principal: CurrentPrincipal
) -> object:
    """Follow an organiser (again: no change); their events join your recommendations."""
    user_id = _follower(principal)
    if user_id == organizer_id:
        raise ApiError(422, "validation_error", "an organiser cannot follow themselves")
    await _organizer(conn, organizer_id)
    await conn.execute(FOLLOW_SQL, {"user_id": user_id, "id": organizer_id})
    return await _follow_state(conn, organizer_id, True)


@router.delete("/{organizer_id}/follow", response_model=FollowState)
async def unfollow_organizer(
    organizer_id: OrganizerId, conn: Connection, principal: CurrentPrincipal
) -> object:
    """Stop following an organiser (not following: no change)."""
    user_id = _follower(principal)
    await _organizer(conn, organizer_id)
    await conn.execute(UNFOLLOW_SQL, {"user_id": user_id, "id": organizer_id})
    return await _follow_state(conn, organizer_id, False)
