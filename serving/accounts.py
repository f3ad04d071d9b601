"""A user's own account: the profile the recommender reads, and deleting the account.

Deletion keeps the pseudonymous id, so interactions, registrations, the marts and the models
stay consistent, and removes what identifies the person (e-mail, name, password, home, interests)
from the account and from its landed copy in one transaction; the e-mail becomes free to sign
up again. ``docs/personal-data.md`` says where each piece of personal data goes.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from serving.errors import ApiError, not_found
from serving.events import LOCK_EVENT_FOR_PLACES_SQL, promote_waitlisted
from serving.users import USER_COLUMNS

# Columns a profile update may set; the SET clause is built from these names only.
PROFILE_COLUMNS = ("name", "home_city", "home_lat", "home_lng", "interests")

# The trigger of migration 0012 bumps token_version with the hash: every token stops working.
DELETE_ACCOUNT_SQL = """
    UPDATE app.users SET email = 'deleted-' || id || '@deleted.invalid', name = '',
        password_hash = NULL, home_city = NULL, home_lat = NULL, home_lng = NULL,
        interests = '{}', requested_role = NULL, deleted_at = now(), updated_at = now()
    WHERE id = %(id)s AND deleted_at IS NULL
    RETURNING id"""
# The landed copy (from the partner's user files) is scrubbed the same way, so the next batch
# publishes nothing personal back.
SCRUB_LANDED_USER_SQL = """
    UPDATE raw.users SET email = 'deleted-' || user_id || '@deleted.invalid', name = '',
        home_city = NULL, home_lat = NULL, home_lng = NULL, interests = '{}',
        updated_at = now()
    WHERE user_id = %(id)s"""


UPCOMING_REGISTRATIONS_SQL = """
    SELECT r.event_id FROM app.registrations r JOIN app.events e ON e.id = r.event_id
    WHERE r.user_id = %(id)s AND r.status IN ('confirmed', 'waitlisted') AND e.starts_at > now()
    ORDER BY r.event_id"""
CANCEL_UPCOMING_SQL = """
    UPDATE app.registrations SET status = 'cancelled', updated_at = now()
    WHERE user_id = %(user_id)s AND event_id = %(event_id)s"""


def profile_changes(changes: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The columns ``changes`` sets, checked against the account as it is.

    ``home_lat`` and ``home_lng`` go together on the merged profile.
    """
    merged = {**current, **changes}
    if (merged["home_lat"] is None) != (merged["home_lng"] is None):
        raise ApiError(422, "validation_error", "home_lat and home_lng go together")
    return {column: changes[column] for column in PROFILE_COLUMNS if column in changes}


async def update_profile(
    conn: AsyncConnection[Any], user_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply ``changes`` to the profile of ``user_id``; the account as it is afterwards."""
    async with conn.transaction():
        cur = await conn.execute(
            f"SELECT {USER_COLUMNS} FROM app.users WHERE id = %(id)s FOR UPDATE", {"id": user_id}
        )
        current = await cur.fetchone()
        if current is None:
            raise not_found("user")
        columns = profile_changes(changes, current)
        if not columns:
            return current
        assignments = ", ".join(f"{column} = %({column})s" for column in columns)
        cur = await conn.execute(
            f"UPDATE app.users SET {assignments}, updated_at = now() WHERE id = %(id)s"
            f" RETURNING {USER_COLUMNS}",
            {**columns, "id": user_id},
        )
        updated = await cur.fetchone()
    assert updated is not None
    return updated


async def delete_account(conn: AsyncConnection[Any], user_id: int) -> None:
    """Remove the personal data of ``user_id`` and revoke its tokens; 404 if already gone.

    Places held for upcoming events are given up (the waitlist moves up): nobody will come.
    """
    async with conn.transaction():
        deleted = await (await conn.execute(DELETE_ACCOUNT_SQL, {"id": user_id})).fetchone()
        if deleted is None:
            raise not_found("user")
        await conn.execute(SCRUB_LANDED_USER_SQL, {"id": user_id})
        cur = await conn.execute(UPCOMING_REGISTRATIONS_SQL, {"id": user_id})
        for event_id in [row["event_id"] for row in await cur.fetchall()]:
            # In event order, as every change of places locks its event first.
            cur = await conn.execute(LOCK_EVENT_FOR_PLACES_SQL, {"event_id": event_id})
            event = await cur.fetchone()
            assert event is not None
            params = {"user_id": user_id, "event_id": event_id}
            await conn.execute(CANCEL_UPCOMING_SQL, params)
            await promote_waitlisted(conn, event_id, event["capacity"])
