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
    """Remove the personal data of ``user_id`` and revoke its tokens; 404 if already gone."""
    async with conn.transaction():
        deleted = await (await conn.execute(DELETE_ACCOUNT_SQL, {"id": user_id})).fetchone()
        if deleted is None:
            raise not_found("user")
        await conn.execute(SCRUB_LANDED_USER_SQL, {"id": user_id})
