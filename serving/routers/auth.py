"""Accounts: register, log in, and who am I. Both entry points return the user and a token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator

from serving.common import respond
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, ApiError, not_found
from serving.security import (
    CurrentPrincipal,
    LoginThrottle,
    create_access_token,
    hash_password,
    login_throttle,
    verify_password,
)
from serving.text import NoNulStr

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=ERROR_RESPONSES)

USER_COLUMNS = """id, email, name, role, home_city, home_lat, home_lng, interests,
    created_at, updated_at"""

INSERT_USER_SQL = f"""
    INSERT INTO app.users (email, name, password_hash, role, home_city, home_lat, home_lng,
                           interests)
    VALUES (%(email)s, %(name)s, %(password_hash)s, %(role)s, %(home_city)s, %(home_lat)s,
            %(home_lng)s, %(interests)s)
    RETURNING {USER_COLUMNS}"""

# Users loaded with explicit ids (synthetic data, imports) leave the identity sequence behind.
RESYNC_USER_ID_SQL = """
    SELECT setval(pg_get_serial_sequence('app.users', 'id'),
                  greatest((SELECT max(id) FROM app.users), 1))"""

USER_BY_EMAIL_SQL = f"""
    SELECT {USER_COLUMNS}, password_hash FROM app.users WHERE lower(email) = lower(%(email)s)"""

USER_BY_ID_SQL = f"SELECT {USER_COLUMNS} FROM app.users WHERE id = %(id)s"

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$"


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    home_city: str | None
    home_lat: float | None
    home_lng: float | None
    interests: list[str]
    created_at: datetime
    updated_at: datetime


class AuthOut(BaseModel):
    """What register and login return: the user, and a bearer token for later requests."""

    user: UserOut
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int


class RegisterIn(BaseModel):
    email: Annotated[NoNulStr, Field(max_length=254, pattern=EMAIL_PATTERN)]
    password: Annotated[NoNulStr, Field(min_length=8, max_length=128)]
    name: Annotated[NoNulStr, Field(min_length=1, max_length=100)]
    # Admins are made by other admins, never by self-service sign-up.
    role: Literal["attendee", "organizer"] = "attendee"
    home_city: Annotated[NoNulStr, Field(min_length=1, max_length=100)] | None = None
    home_lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    home_lng: Annotated[float, Field(ge=-180, le=180)] | None = None
    interests: Annotated[
        list[Annotated[NoNulStr, Field(min_length=1, max_length=50)]], Field(max_length=50)
    ] = Field(default_factory=list)

    @field_validator("name", "home_city")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


class LoginIn(BaseModel):
    email: Annotated[NoNulStr, Field(min_length=1, max_length=254)]
    password: Annotated[NoNulStr, Field(min_length=1, max_length=128)]


def _auth_body(user: dict) -> dict:
    token, ttl = create_access_token(user["id"], user["role"])
    return {"user": user, "token": token, "token_type": "bearer", "expires_in": ttl}


@router.post("/auth/register", response_model=AuthOut, status_code=201)
async def register(body: RegisterIn, conn: Connection) -> object:
    """Create an account; a taken e-mail (case-insensitive) is a 409."""
    params = body.model_dump()
    params["email"] = body.email.strip()
    params["password_hash"] = await hash_password(body.password)
    for attempt in range(2):
        try:
            cur = await conn.execute(INSERT_USER_SQL, params)
            user = await cur.fetchone()
            break
        except psycopg.errors.UniqueViolation as exc:
            constraint = exc.diag.constraint_name
            if constraint == "users_pkey" and attempt == 0:
                await conn.execute(RESYNC_USER_ID_SQL)
                continue
            raise ApiError(409, "email_taken", "an account with this e-mail exists") from None
    assert user is not None
    return respond(_auth_body(user), status_code=201)


@router.post("/auth/login", response_model=AuthOut)
async def login(
    body: LoginIn,
    request: Request,
    conn: Connection,
    throttle: Annotated[LoginThrottle, Depends(login_throttle)],
) -> object:
    """Exchange e-mail and password for a token; repeated failures are refused for a while."""
    account_key = "email:" + body.email.strip().lower()
    client_key = "ip:" + (request.client.host if request.client else "unknown")
    clients: LoginThrottle = request.app.state.client_throttle
    retry_after = max(throttle.retry_after(account_key), clients.retry_after(client_key))
    if retry_after:
        raise ApiError(
            429,
            "too_many_attempts",
            "too many failed logins; try again later",
            headers={"Retry-After": str(retry_after)},
        )
    cur = await conn.execute(USER_BY_EMAIL_SQL, {"email": body.email.strip()})
    row = await cur.fetchone()
    password_hash = row.pop("password_hash") if row else None
    if not await verify_password(password_hash, body.password) or row is None:
        throttle.failed(account_key)
        clients.failed(client_key)
        raise ApiError(401, "invalid_credentials", "e-mail or password is wrong")
    throttle.succeeded(account_key)
    return respond(_auth_body(row))


@router.get("/users/me", response_model=UserOut, tags=["users"])
async def me(principal: CurrentPrincipal, conn: Connection) -> object:
    """The account behind the bearer token (the service token has none)."""
    if principal.user_id is None:
        raise not_found("user")
    cur = await conn.execute(USER_BY_ID_SQL, {"id": principal.user_id})
    row = await cur.fetchone()
    if row is None:
        raise not_found("user")
    return respond(row)
