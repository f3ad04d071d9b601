"""Check-in: organisers mark who attended, one by one or a whole list at the door.

Attendance is what the models trust most (an ``attend`` interaction outweighs a registration),
and until now nothing set it. A check-in turns a confirmed registration into ``attended`` and
records an ``attend`` interaction with an id derived from the registration, so checking in
twice changes nothing and the interaction reaches the marts once. A batch is all or nothing:
one unknown, waitlisted or cancelled attendee refuses the whole list, naming each.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from serving.errors import ApiError, forbidden
from serving.events import can_manage, lock_for_places
from serving.security import Principal

# Doors open a day ahead (early badge pick-up); paper lists are typed in up to a week after.
OPENS_BEFORE_START = timedelta(hours=24)
CLOSES_AFTER_END = timedelta(days=7)

REGISTRATIONS_OF_USERS_SQL = """
    SELECT r.id, r.user_id, r.status FROM app.registrations r
    WHERE r.event_id = %(event_id)s AND r.user_id = ANY (%(user_ids)s::bigint[])"""

# Both in one statement: the registrations that become attended and their interactions.
CHECK_IN_SQL = """
    WITH checked AS (
        UPDATE app.registrations AS r SET status = 'attended', updated_at = now()
        WHERE r.event_id = %(event_id)s AND r.user_id = ANY (%(user_ids)s::bigint[])
          AND r.status = 'confirmed'
        RETURNING r.id, r.user_id, r.event_id
    )
    INSERT INTO app.interactions (id, user_id, event_id, type, occurred_at, source, context)
    SELECT md5('check-in:' || c.id)::uuid, c.user_id, c.event_id, 'attend', now(), 'app',
           jsonb_build_object('checked_in_by', %(checked_in_by)s::text)
    FROM checked c
    ON CONFLICT (id) DO NOTHING"""

EVENT_WINDOW_SQL = "SELECT starts_at, ends_at FROM app.events WHERE id = %(event_id)s"


def check_in_window(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    """When attendance of an event starting and ending then may be recorded."""
    return starts_at - OPENS_BEFORE_START, ends_at + CLOSES_AFTER_END


def refusals(user_ids: list[int], found: dict[int, str]) -> dict[int, str]:
    """Why each of ``user_ids`` cannot be checked in, given their registration statuses."""
    reasons: dict[int, str] = {}
    for user_id in user_ids:
        status = found.get(user_id)
        if status is None:
            reasons[user_id] = "not registered for this event"
        elif status in ("waitlisted", "cancelled"):
            reasons[user_id] = f"registration is {status}, not confirmed"
    return reasons


async def check_in(
    conn: AsyncConnection[Any],
    event_id: int,
    principal: Principal,
    user_ids: list[int],
    now: datetime,
) -> dict[str, list[int]]:
    """Mark ``user_ids`` as attended at ``event_id``; which were checked in now and before.

    403 unless the caller manages the event, 409 outside the check-in window, 422 naming every
    attendee that cannot be checked in (and nothing is written then).
    """
    async with conn.transaction():
        event = await lock_for_places(conn, event_id, principal)
        if not can_manage(principal, event):
            raise forbidden("only the event's organiser or an admin checks attendees in")
        times = await (await conn.execute(EVENT_WINDOW_SQL, {"event_id": event_id})).fetchone()
        assert times is not None
        opens, closes = check_in_window(times["starts_at"], times["ends_at"])
        if not opens <= now <= closes:
            raise ApiError(
                409,
                "check_in_closed",
                "check-in is open from a day before the start to a week after the end",
                details={"opens_at": opens.isoformat(), "closes_at": closes.isoformat()},
            )
        params = {"event_id": event_id, "user_ids": user_ids}
        cur = await conn.execute(REGISTRATIONS_OF_USERS_SQL, params)
        found = {row["user_id"]: row["status"] for row in await cur.fetchall()}
        refused = refusals(user_ids, found)
        if refused:
            raise ApiError(
                422,
                "cannot_check_in",
                f"{len(refused)} of {len(user_ids)} attendees cannot be checked in; none was",
                details={"refused": [{"user_id": u, "reason": r} for u, r in refused.items()]},
            )
        by = principal.user_id if principal.user_id is not None else principal.role
        await conn.execute(CHECK_IN_SQL, {**params, "checked_in_by": str(by)})
    before = sorted(u for u in user_ids if found[u] == "attended")
    return {"checked_in": sorted(set(user_ids) - set(before)), "already_checked_in": before}
