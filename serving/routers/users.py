"""Users: who am I, a new password, and the admins' decisions on roles.

Organiser accounts need an admin: sign-up records the request (``requested_role``), admins list
the pending requests and grant (or refuse) the role by setting it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictFloat
from starlette.responses import Response

from serving.accounts import delete_account, update_profile
from serving.common import MAX_BIGINT, PageInfo, PagingDep, fetch_page, respond
from serving.db import Connection
from serving.errors import ERROR_RESPONSES, ApiError, forbidden, not_found
from serving.security import (
    CurrentPrincipal,
    Principal,
    account_cache,
    hash_password,
    verify_password,
)
from serving.text import StorableStr
from serving.users import (
    COUNT_ORGANIZER_REQUESTS_SQL,
    ORGANIZER_REQUESTS_SQL,
    PASSWORD_HASH_SQL,
    SET_PASSWORD_SQL,
    SET_ROLE_SQL,
    USER_BY_ID_SQL,
    AuthOut,
    Password,
    Role,
    UserOut,
    auth_body,
)

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=ERROR_RESPONSES)


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


class RoleChange(BaseModel):
    role: Role


class ProfilePatch(BaseModel):
    """Profile fields to change; absent fields stay. Home and interests choose the events
    recommended to a user without history, and the popular fallback of everyone."""

    model_config = ConfigDict(extra="forbid")

    # Defaults of None are never validated: absent means unchanged, while null is refused.
    name: Annotated[StorableStr, Field(min_length=1, max_length=200, pattern=r"\S")] = None  # type: ignore[assignment]
    home_city: Annotated[StorableStr, Field(min_length=1, max_length=200)] | None = None
    home_lat: Annotated[StrictFloat, Field(ge=-90, le=90)] | None = None
    home_lng: Annotated[StrictFloat, Field(ge=-180, le=180)] | None = None
    interests: Annotated[
        list[Annotated[StorableStr, Field(min_length=1, max_length=50)]], Field(max_length=30)
    ] = None  # type: ignore[assignment]


class AccountDeletion(BaseModel):
    """The password again: deleting an account cannot be undone."""

    password: Annotated[str, Field(min_length=1, max_length=128)]


class UserPage(PageInfo):
    items: list[UserOut]


def _own_account(principal: Principal) -> int:
    if principal.user_id is None:
        raise not_found("user")
    return principal.user_id


def _admin_only(principal: Principal) -> None:
    if principal.role != "admin":
        raise forbidden("only admins decide on roles")


@router.get("/me", response_model=UserOut)
async def me(principal: CurrentPrincipal, conn: Connection) -> object:
    """The account behind the bearer token (the service token has none)."""
    cur = await conn.execute(USER_BY_ID_SQL, {"id": _own_account(principal)})
    row = await cur.fetchone()
    if row is None:
        raise not_found("user")
    return respond(row)


@router.patch("/me", response_model=UserOut)
async def update_me(body: ProfilePatch, principal: CurrentPrincipal, conn: Connection) -> object:
    """Change your name, home (city and coordinates) or interests."""
    user_id = _own_account(principal)
    user = await update_profile(conn, user_id, body.model_dump(exclude_unset=True))
    return respond(user)


@router.delete("/me", status_code=204, response_class=Response)
async def delete_me(
    request: Request, body: AccountDeletion, principal: CurrentPrincipal, conn: Connection
) -> Response:
    """Delete your account: personal data removed, tokens revoked, the e-mail free again.

    Your pseudonymous id stays behind your past interactions and registrations (see
    ``docs/personal-data.md``).
    """
    user_id = _own_account(principal)
    cur = await conn.execute(PASSWORD_HASH_SQL, {"id": user_id})
    row = await cur.fetchone()
    if row is None or not await verify_password(row["password_hash"], body.password):
        raise ApiError(403, "invalid_credentials", "the password is wrong")
    await delete_account(conn, user_id)
    account_cache(request).user_changed(user_id)
    return Response(status_code=204)


@router.put("/me/password", response_model=AuthOut)
async def change_password(
    request: Request, body: PasswordChange, principal: CurrentPrincipal, conn: Connection
) -> object:
    """Set a new password; every earlier token stops working, the answer carries a new one."""
    user_id = _own_account(principal)
    cur = await conn.execute(PASSWORD_HASH_SQL, {"id": user_id})
    row = await cur.fetchone()
    if row is None or not await verify_password(row["password_hash"], body.current_password):
        raise ApiError(403, "invalid_credentials", "the current password is wrong")
    password_hash = await hash_password(body.new_password)
    cur = await conn.execute(SET_PASSWORD_SQL, {"id": user_id, "password_hash": password_hash})
    user = await cur.fetchone()
    if user is None:
        raise not_found("user")
    account_cache(request).user_changed(user_id)
    return respond(auth_body(user, user.pop("token_version")))


@router.get("/organizer-requests", response_model=UserPage)
async def organizer_requests(
    principal: CurrentPrincipal, conn: Connection, paging: PagingDep
) -> object:
    """Accounts waiting for an admin to grant the organiser role, oldest first."""
    _admin_only(principal)
    page = await fetch_page(conn, ORGANIZER_REQUESTS_SQL, COUNT_ORGANIZER_REQUESTS_SQL, {}, paging)
    return respond(page)


@router.delete("/{user_id:int}", status_code=204, response_class=Response)
async def delete_user(
    request: Request,
    user_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)],
    principal: CurrentPrincipal,
    conn: Connection,
) -> Response:
    """An admin deletes an account (an erasure request), as its owner would."""
    if principal.role != "admin":
        raise forbidden("only admins delete other accounts")
    await delete_account(conn, user_id)
    account_cache(request).user_changed(user_id)
    return Response(status_code=204)


# ``:int`` keeps ``/me`` and ``/organizer-requests`` from matching this route (405, not 422).
@router.patch("/{user_id:int}", response_model=UserOut)
async def set_role(
    request: Request,
    user_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)],
    body: RoleChange,
    principal: CurrentPrincipal,
    conn: Connection,
) -> object:
    """An admin sets an account's role (granting or refusing an organiser request).

    A new role revokes the account's tokens: its owner logs in again to use it.
    """
    _admin_only(principal)
    cur = await conn.execute(SET_ROLE_SQL, {"id": user_id, "role": body.role})
    user = await cur.fetchone()
    if user is None:
        raise not_found("user")
    account_cache(request).user_changed(user_id)
    return respond(user)
