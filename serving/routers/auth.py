"""Accounts: sign up, log in and log out.

Sign-up answers the same whether or not the e-mail already has an account (OWASP: no account
enumeration); the new user then logs in. Asking for the organiser role records a request that
an admin grants (``PATCH /api/v1/users/{id}``); until then the account is an attendee.
"""

from __future__ import annotations

from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictFloat, field_validator
from starlette.responses import Response

from serving.common import respond
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, ApiError
from serving.security import (
    CurrentPrincipal,
    account_cache,
    hash_password,
    verify_password,
)
from serving.text import STORABLE, StorableStr
from serving.throttle import LoginThrottle, client_address
from serving.users import USER_COLUMNS, AuthOut, Email, Password, auth_body

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)

INSERT_USER_SQL = """
    INSERT INTO app.users (email, name, password_hash, role, requested_role, home_city,
                           home_lat, home_lng, interests)
    VALUES (%(email)s, %(name)s, %(password_hash)s, 'attendee', %(requested_role)s,
            %(home_city)s, %(home_lat)s, %(home_lng)s, %(interests)s)"""

# Users loaded with explicit ids (synthetic data, imports) leave the identity sequence behind.
RESYNC_USER_ID_SQL = """
    SELECT setval(pg_get_serial_sequence('app.users', 'id'),
                  greatest((SELECT max(id) FROM app.users), 1))"""

USER_BY_EMAIL_SQL = f"""
    SELECT {USER_COLUMNS}, password_hash, token_version FROM app.users
    WHERE lower(email) = lower(%(email)s)"""

LOGOUT_SQL = "UPDATE app.users SET token_version = token_version + 1 WHERE id = %(id)s"

REGISTERED_MESSAGE = (
    "if this e-mail can be used, the account is ready: log in with it "
    "(an organiser request waits for an admin)"
)


class Registered(BaseModel):
    """The same answer whether the account was created or the e-mail was taken."""

    message: str


class RegisterIn(BaseModel):
    email: Email
    password: Password
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S"), STORABLE]
    role: Literal["attendee", "organizer"] = Field(
        default="attendee",
        description="organizer: asks for the role; an admin grants it, until then attendee",
    )
    home_city: (
        Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S"), STORABLE] | None
    ) = None
    home_lat: Annotated[StrictFloat, Field(ge=-90, le=90)] | None = None
    home_lng: Annotated[StrictFloat, Field(ge=-180, le=180)] | None = None
    interests: Annotated[
        list[Annotated[StorableStr, Field(min_length=1, max_length=50)]], Field(max_length=50)
    ] = Field(default_factory=list)

    @field_validator("name", "home_city")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None


class LoginIn(BaseModel):
    email: Annotated[StorableStr, Field(min_length=1, max_length=254)]
    password: Annotated[StorableStr, Field(min_length=1, max_length=128)]


@router.post("/register", response_model=Registered, status_code=202)
async def register(body: RegisterIn, conn: Connection) -> object:
    """Create an account, then log in. The answer does not say whether the e-mail was taken."""
    params = body.model_dump(exclude={"role"})
    params["email"] = body.email.strip()
    params["requested_role"] = "organizer" if body.role == "organizer" else None
    params["password_hash"] = await hash_password(body.password)
    for attempt in range(2):
        try:
            await conn.execute(INSERT_USER_SQL, params)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "users_pkey" and attempt == 0:
                await conn.execute(RESYNC_USER_ID_SQL)
                continue
        break
    return respond({"message": REGISTERED_MESSAGE}, status_code=202)


def _throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle  # type: ignore[no-any-return]


@router.post("/login", response_model=AuthOut)
async def login(body: LoginIn, request: Request, conn: Connection) -> object:
    """Exchange e-mail and password for a token; repeated failures are refused for a while."""
    account = body.email.strip().lower()
    client = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        request.app.state.trusted_proxies,
    )
    throttle = _throttle(request)
    retry_after = throttle.retry_after(account, client)
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
        throttle.failed(account, client)
        raise ApiError(401, "invalid_credentials", "e-mail or password is wrong")
    throttle.succeeded(account, client)
    return respond(auth_body(row, row.pop("token_version")))


@router.post("/logout", status_code=204, response_class=Response)
async def logout(request: Request, principal: CurrentPrincipal, conn: Connection) -> Response:
    """Revoke every token of the caller's account (all devices)."""
    if principal.user_id is None:
        raise ApiError(422, "validation_error", "the service token cannot log out")
    await conn.execute(LOGOUT_SQL, {"id": principal.user_id})
    account_cache(request).user_changed(principal.user_id)
    return Response(status_code=204)


REFRESH_SQL = f"SELECT {USER_COLUMNS}, token_version FROM app.users WHERE id = %(id)s"


@router.post("/refresh", response_model=AuthOut)
async def refresh(principal: CurrentPrincipal, conn: Connection) -> object:
    """A fresh token for a still-valid one, so an active client never has to log in again.

    It carries the account's current token version: logout, a new password, a new role or
    deletion revoke refreshed tokens like every other.
    """
    if principal.user_id is None:
        raise ApiError(422, "validation_error", "the service token is not refreshed")
    row = await (await conn.execute(REFRESH_SQL, {"id": principal.user_id})).fetchone()
    if row is None:
        raise ApiError(401, "invalid_token", "the account is gone")
    return respond(auth_body(row, row.pop("token_version")))
