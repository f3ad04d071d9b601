"""Accounts as the API shows them, and the SQL that reads and changes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from serving.security import create_access_token
from serving.text import STORABLE, StorableStr

USER_COLUMNS = """id, email, name, role, requested_role, home_city, home_lat, home_lng,
    interests, created_at, updated_at"""

USER_BY_ID_SQL = f"SELECT {USER_COLUMNS} FROM app.users WHERE id = %(id)s"

# The trigger of migration 0012 bumps token_version with the hash: older tokens stop working.
SET_PASSWORD_SQL = f"""
    UPDATE app.users SET password_hash = %(password_hash)s, updated_at = now()
    WHERE id = %(id)s RETURNING {USER_COLUMNS}, token_version"""

PASSWORD_HASH_SQL = "SELECT password_hash FROM app.users WHERE id = %(id)s"  # noqa: S105

SET_ROLE_SQL = f"""
    UPDATE app.users SET role = %(role)s, requested_role = NULL, updated_at = now()
    WHERE id = %(id)s RETURNING {USER_COLUMNS}"""

ORGANIZER_REQUESTS_SQL = f"""
    SELECT {USER_COLUMNS} FROM app.users WHERE requested_role IS NOT NULL
    ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_ORGANIZER_REQUESTS_SQL = (
    "SELECT count(*) AS total FROM app.users WHERE requested_role IS NOT NULL"
)

# At most 64 characters before the @, a dotted domain, no spaces: what the API stores.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s.]{1,63}(\.[^@\s.]{1,63})+$"

Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN), STORABLE]
Password = Annotated[StorableStr, Field(min_length=8, max_length=128)]

Role = Literal["attendee", "organizer", "admin"]


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    requested_role: Literal["organizer"] | None
    home_city: str | None
    home_lat: float | None
    home_lng: float | None
    interests: list[str]
    created_at: datetime
    updated_at: datetime


class AuthOut(BaseModel):
    """What login returns: the user, and a bearer token for later requests."""

    user: UserOut
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int


def auth_body(user: dict[str, Any], token_version: int) -> dict[str, Any]:
    """The login answer for ``user`` with a token at its current token version."""
    token, ttl = create_access_token(user["id"], token_version)
    return {"user": user, "token": token, "token_type": "bearer", "expires_in": ttl}
