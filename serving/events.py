"""The rules of events, under the routers: who may see and manage an event, how it changes,
and how places and the waitlist move. Each query lives here, named for what it answers.

Every change to an event's places runs in a transaction that first locks the event's row, so
concurrent requests for one event are decided one at a time against an exact count.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection

from serving.common import EVENT_COLUMNS
from serving.errors import ApiError, forbidden, not_found
from serving.security import Principal

# Which status may follow which; cancelling and completing are final.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"published", "cancelled"}),
    "published": frozenset({"cancelled", "completed"}),
    "cancelled": frozenset(),
    "completed": frozenset(),
}

# How far ahead an event may be planned; a start beyond it is a typo (9999) or a test.
MAX_LEAD = timedelta(days=5 * 366)
# The longest an event may last (festivals, residencies); longer is a typo of the end.
MAX_DURATION = timedelta(days=366)

EVENT_BY_ID_SQL = f"SELECT {EVENT_COLUMNS} FROM app.events e WHERE e.id = %(id)s"
EVENT_FOR_UPDATE_SQL = EVENT_BY_ID_SQL + " FOR UPDATE"

# Registrations lock the row against other registrations only (not against reads of the key).
LOCK_EVENT_FOR_PLACES_SQL = """
    SELECT id, capacity, status, starts_at, organizer_id, starts_at > now() AS upcoming
    FROM app.events WHERE id = %(event_id)s FOR NO KEY UPDATE"""

INSERT_EVENT_SQL = f"""
    INSERT INTO app.events AS e (title, description, category, tags, starts_at, ends_at,
        timezone, venue_name, city, lat, lng, capacity, price, currency, organizer_id, status,
        attendance_mode, online_url, image_url)
    VALUES (%(title)s, %(description)s, %(category)s, %(tags)s, %(starts_at)s, %(ends_at)s,
        %(timezone)s, %(venue_name)s, %(city)s, %(lat)s, %(lng)s, %(capacity)s, %(price)s,
        %(currency)s, %(organizer_id)s, %(status)s, %(attendance_mode)s, %(online_url)s,
        %(image_url)s)
    RETURNING {EVENT_COLUMNS}"""

RESYNC_EVENT_ID_SQL = """
    SELECT setval(pg_get_serial_sequence('app.events', 'id'),
                  greatest((SELECT max(id) FROM app.events), 1))"""

# Columns a change may set; the SET clause is assembled from this list only.
UPDATABLE_COLUMNS = (
    "title",
    "description",
    "category",
    "tags",
    "starts_at",
    "ends_at",
    "timezone",
    "venue_name",
    "city",
    "lat",
    "lng",
    "capacity",
    "price",
    "currency",
    "status",
    "attendance_mode",
    "online_url",
    "image_url",
)

PLACES_TAKEN_SQL = """
    SELECT count(*) AS taken FROM app.registrations
    WHERE event_id = %(event_id)s AND status IN ('confirmed', 'attended')"""

# Places freed (a cancellation, a larger capacity) go to the waitlist in the order in which
# its registrations won the event's lock.
PROMOTE_WAITLISTED_SQL = """
    UPDATE app.registrations AS r SET status = 'confirmed', updated_at = now()
    WHERE r.id IN (SELECT w.id FROM app.registrations w
                   WHERE w.event_id = %(event_id)s AND w.status = 'waitlisted'
                   ORDER BY w.queue_order LIMIT %(places)s)
    RETURNING r.id"""

WAITLIST_POSITION_SQL = """
    SELECT count(*) + 1 AS position FROM app.registrations w
    WHERE w.event_id = %(event_id)s AND w.status = 'waitlisted'
      AND w.queue_order < (SELECT queue_order FROM app.registrations WHERE id = %(id)s)"""


def can_manage(principal: Principal, event: dict[str, Any]) -> bool:
    """Organisers manage their own events; admins and the service client every event."""
    return principal.is_privileged or (
        principal.role == "organizer" and event["organizer_id"] == principal.user_id
    )


def can_see(principal: Principal | None, event: dict[str, Any]) -> bool:
    """Drafts are private to their organiser (and admins); everything else is public."""
    if event["status"] != "draft":
        return True
    return principal is not None and can_manage(principal, event)


def may_list_drafts(principal: Principal | None, organizer_id: int | None) -> bool:
    """Drafts are listed for their organiser (asking for their own) and privileged callers."""
    if principal is None:
        return False
    return principal.is_privileged or (
        organizer_id is not None and principal.user_id == organizer_id
    )


def check_consistency(event: dict[str, Any], now: datetime | None = None) -> None:
    """Rules across fields, checked on creation and on the merged result of a change.

    ``now`` is given when the start is new (created or changed): a start in the past or too far
    ahead is refused then, never for an event that merely took place already.
    """
    if event["ends_at"] <= event["starts_at"]:
        raise ApiError(422, "validation_error", "ends_at must be after starts_at")
    if event["ends_at"] - event["starts_at"] > MAX_DURATION:
        raise ApiError(422, "validation_error", f"an event lasts at most {MAX_DURATION.days} days")
    if (event["lat"] is None) != (event["lng"] is None):
        raise ApiError(422, "validation_error", "lat and lng go together")
    joined_online = event["attendance_mode"] in ("online", "hybrid")
    if joined_online and event["online_url"] is None:
        raise ApiError(422, "validation_error", "online and hybrid events need an online_url")
    if not joined_online and event["online_url"] is not None:
        raise ApiError(422, "validation_error", "online_url is for online and hybrid events only")
    if now is not None:
        earliest, latest = now, now + MAX_LEAD
        if not earliest <= event["starts_at"] <= latest:
            raise ApiError(
                422,
                "date_out_of_range",
                "starts_at must be between now and "
                f"{latest.date().isoformat()} ({MAX_LEAD.days} days ahead)",
                details={"earliest": earliest.isoformat(), "latest": latest.isoformat()},
            )


def _refused_by_database(error: psycopg.errors.CheckViolation) -> ApiError:
    # The API's own checks come first; this catches what only the database knows (its time
    # zone names can lag Python's).
    return ApiError(
        422,
        "validation_error",
        "the database refused a value",
        details={"constraint": error.diag.constraint_name},
    )


def etag(event: dict[str, Any]) -> str:
    return f'"{event["version"]}"'


# The tag of a write ("3") or of a read ("3-<digest of the body>"): both start with the version.
IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"[0-9]{1,10}(-[0-9a-f]{1,32})?"|[0-9]{1,10})\s*$'
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,10})(?:-[0-9a-f]{1,32})?"?\s*$')


def expected_version(if_match: str | None, body_version: int | None) -> int | None:
    """The version the client last saw, from ``If-Match`` or the body; ``None`` for any."""
    if if_match is not None and if_match.strip() != "*":
        found = _IF_MATCH.match(if_match)
        if not found:
            raise ApiError(400, "bad_if_match", 'If-Match must be an ETag such as "3"')
        return int(found.group(1))
    return body_version


async def load_visible_event(
    conn: AsyncConnection[Any], event_id: int, principal: Principal | None
) -> dict[str, Any]:
    """The event as ``principal`` may see it; 404 when it does not exist or is not visible."""
    cur = await conn.execute(EVENT_BY_ID_SQL, {"id": event_id})
    event = await cur.fetchone()
    if event is None or not can_see(principal, event):
        raise not_found("event")
    return event


async def lock_for_places(
    conn: AsyncConnection[Any], event_id: int, principal: Principal
) -> dict[str, Any]:
    """Lock the event's places for this transaction; 404 when ``principal`` cannot see it."""
    cur = await conn.execute(LOCK_EVENT_FOR_PLACES_SQL, {"event_id": event_id})
    event = await cur.fetchone()
    if event is None or not can_see(principal, event):
        raise not_found("event")
    return event


async def places_taken(conn: AsyncConnection[Any], event_id: int) -> int:
    """Confirmed and attended registrations; exact while the caller holds the event's lock."""
    cur = await conn.execute(PLACES_TAKEN_SQL, {"event_id": event_id})
    return (await cur.fetchone())["taken"]  # type: ignore[index, no-any-return]


async def promote_waitlisted(conn: AsyncConnection[Any], event_id: int, capacity: int) -> None:
    """Fill free places from the waitlist; the caller holds the event's row lock."""
    places = capacity - await places_taken(conn, event_id)
    if places > 0:
        await conn.execute(PROMOTE_WAITLISTED_SQL, {"event_id": event_id, "places": places})


async def waitlist_position(conn: AsyncConnection[Any], registration: dict[str, Any]) -> int:
    """1 for the next in line; unique while the caller holds the event's lock."""
    cur = await conn.execute(WAITLIST_POSITION_SQL, registration)
    return (await cur.fetchone())["position"]  # type: ignore[index, no-any-return]


async def create_event(
    conn: AsyncConnection[Any], principal: Principal, fields: dict[str, Any]
) -> dict[str, Any]:
    """Insert a new event for the caller (or, for privileged callers, for ``organizer_id``)."""
    if principal.role not in ("organizer", "admin", "service"):
        raise forbidden("only organisers create events")
    params = dict(fields)
    if principal.role == "organizer":
        if params.get("organizer_id") not in (None, principal.user_id):
            raise forbidden("organisers create events for themselves only")
        params["organizer_id"] = principal.user_id
    elif params.get("organizer_id") is None:
        params["organizer_id"] = principal.user_id
    check_consistency(params, now=datetime.now(UTC))
    for attempt in range(2):
        try:
            async with conn.transaction():
                cur = await conn.execute(INSERT_EVENT_SQL, params)
                event = await cur.fetchone()
            break
        except psycopg.errors.UniqueViolation:
            # Events loaded with explicit ids leave the identity sequence behind.
            if attempt:
                raise
            await conn.execute(RESYNC_EVENT_ID_SQL)
        except psycopg.errors.ForeignKeyViolation:
            raise ApiError(422, "unknown_organizer", "organizer_id is not a user") from None
        except psycopg.errors.CheckViolation as error:
            raise _refused_by_database(error) from None
    assert event is not None
    return event


async def update_event(
    conn: AsyncConnection[Any],
    event_id: int,
    principal: Principal,
    changes: dict[str, Any],
    version: int | None,
) -> dict[str, Any]:
    """Apply ``changes`` atomically after checking ownership, version and the merged event.

    A capacity below the places already taken is refused (409): nobody loses a confirmed place
    by an edit. A larger capacity promotes waitlisted users into the new places.
    """
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
        changes = {k: v for k, v in changes.items() if k in UPDATABLE_COLUMNS and v != current[k]}
        if not changes:
            return current
        moved = "starts_at" in changes
        check_consistency({**current, **changes}, now=datetime.now(UTC) if moved else None)
        if changes.get("capacity", current["capacity"]) < current["capacity"]:
            taken = await places_taken(conn, event_id)
            if changes["capacity"] < taken:
                raise ApiError(
                    409,
                    "capacity_below_taken",
                    f"{taken} places are taken; capacity cannot go below that",
                    details={"taken": taken},
                )
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        try:
            async with conn.transaction():
                cur = await conn.execute(
                    f"""UPDATE app.events AS e SET {assignments}, version = e.version + 1,
                               updated_at = now()
                        WHERE e.id = %(id)s RETURNING {EVENT_COLUMNS}""",
                    {**changes, "id": event_id},
                )
        except psycopg.errors.CheckViolation as error:
            raise _refused_by_database(error) from None
        updated = await cur.fetchone()
        assert updated is not None
        if updated["capacity"] > current["capacity"]:
            await promote_waitlisted(conn, event_id, updated["capacity"])
    return updated
