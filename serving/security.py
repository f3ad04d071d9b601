"""Passwords, tokens and the principal behind each request.

Passwords are hashed with argon2 (in a worker thread: hashing is deliberately slow). Tokens are
HS256 JWTs carrying the user id and the account's token version. Every request checks the token
against the account as it is now (:mod:`serving.account_cache`): the role comes from the account,
not from the token, and a token whose version is not the account's current one (after a logout,
a new password or role) or whose account is gone is refused. The static service token from the
settings grants the ``service`` role to batch clients.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any

import jwt
from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from psycopg import AsyncConnection

from core.settings import Settings, get_settings
from serving.account_cache import AccountCache, read_account
from serving.db import Connection, connection
from serving.errors import ApiError

JWT_ALGORITHM = "HS256"
# OWASP's argon2id profile (19 MiB, 2 passes, 1 lane): the library default (64 MiB, 4 lanes)
# takes over half a second per login on a small machine, which invites denial of service.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# A real hash to verify against when the e-mail is unknown, so response time does not reveal
# which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

SERVICE_ROLE = "service"
PRIVILEGED_ROLES = frozenset({"admin", SERVICE_ROLE})

# Values copied from examples, refused as secrets wherever they appear.
PLACEHOLDER_SECRETS = frozenset(
    {"change-me", "changeme", "change_me", "secret", "password", "test", "example", "xxx"}
)
# HS256 wants a key as long as its hash (RFC 7518, 3.2); the service token is a password that
# never needs typing, so it can afford the length of a random 96-bit string.
MIN_JWT_SECRET_CHARS = 32
MIN_SERVICE_TOKEN_CHARS = 16


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (id and current role) or the service client (no user id)."""

    user_id: int | None
    role: str

    @property
    def is_privileged(self) -> bool:
        """Admins and the service client may act on any user's data."""
        return self.role in PRIVILEGED_ROLES

    def may_act_for(self, user_id: int) -> bool:
        return self.is_privileged or self.user_id == user_id


def secret_problems(settings: Settings) -> list[str]:
    """Why the configured secrets are unfit to run with; empty when they are fine.

    Unset secrets are fine: the token-signing secret is then generated at random, and without a
    service token there is no service access.
    """
    problems = []
    for name, secret, minimum in (
        ("JWT_SECRET", settings.jwt_secret, MIN_JWT_SECRET_CHARS),
        ("SERVICE_TOKEN", settings.service_token, MIN_SERVICE_TOKEN_CHARS),
        ("METRICS_TOKEN", settings.metrics_token, MIN_SERVICE_TOKEN_CHARS),
    ):
        if secret is None:
            continue
        value = secret.get_secret_value().strip()
        if value.lower() in PLACEHOLDER_SECRETS or "change-me" in value.lower():
            problems.append(f"{name} is a placeholder; set a random value")
        elif len(value) < minimum:
            problems.append(f"{name} is shorter than {minimum} characters")
    return problems


def password_hash(password: str) -> str:
    """The argon2 hash to store for ``password`` (slow on purpose: call it off the event loop)."""
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await to_thread.run_sync(password_hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; unknown users still cost one verification."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await to_thread.run_sync(verify)


@cache
def _signing_secret() -> str:
    # Read once per process: without JWT_SECRET the settings read it from a file on each call.
    return get_settings().jwt_secret_value()


def create_access_token(user_id: int, token_version: int) -> tuple[str, int]:
    """A signed token for the account at ``token_version`` and its lifetime in seconds."""
    settings = get_settings()
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "ver": token_version, "iat": now, "exp": now + ttl}
    token = jwt.encode(claims, _signing_secret(), algorithm=JWT_ALGORITHM)
    return token, int(ttl.total_seconds())


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True, slots=True)
class _Claims:
    user_id: int | None  # None: the service token
    token_version: int
    expires: float


_SERVICE_CLAIMS = _Claims(None, 0, float("inf"))

# Tokens whose signature was already checked, with their claims: a client sends the same token
# on every request, and checking its signature again costs more than the rest of a cached read.
_verified: dict[str, _Claims] = {}
_VERIFIED_MAX = 50_000


def _claims(token: str) -> _Claims:
    """The verified claims of a bearer token; 401 when it is forged, malformed or expired."""
    known = _verified.get(token)
    if known is not None:
        if time.time() < known.expires:
            return known
        del _verified[token]
    service = get_settings().service_token
    if service is not None and hmac.compare_digest(
        token.encode(), service.get_secret_value().encode()
    ):
        return _SERVICE_CLAIMS
    try:
        decoded = jwt.decode(
            token,
            _signing_secret(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "ver"]},
        )
        claims = _Claims(int(decoded["sub"]), int(decoded["ver"]), float(decoded["exp"]))
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError, UnicodeEncodeError):
        raise _unauthorized("invalid token") from None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[token] = claims
    return claims


def bearer_token(request: Request) -> str | None:
    """The bearer token of ``request``; ``None`` without an ``Authorization`` header.

    A header that is not a bearer token is a 401, like an invalid token.
    """
    authorization = request.headers.get("authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not token or scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    return token


def account_cache(request: Request) -> AccountCache:
    return request.app.state.accounts  # type: ignore[no-any-return]


async def authenticate(
    request: Request, conn: AsyncConnection[Any] | None = None
) -> Principal | None:
    """The caller of ``request`` as its account is now; ``None`` for an anonymous request.

    The account is read from the worker's account cache, else through ``conn`` (or a pooled
    connection taken for it when ``conn`` is ``None``).
    """
    token = bearer_token(request)
    if token is None:
        return None
    claims = _claims(token)
    if claims.user_id is None:
        return Principal(user_id=None, role=SERVICE_ROLE)
    accounts = account_cache(request)
    account = accounts.get(claims.user_id)
    if account is None:
        ticket = accounts.ticket()
        if conn is None:
            async with connection(request) as pooled:
                account = await read_account(pooled, claims.user_id)
        else:
            account = await read_account(conn, claims.user_id)
        if account is None:
            raise _unauthorized("the account of this token no longer exists")
        accounts.put(claims.user_id, account, ticket)
    if account.token_version != claims.token_version:
        raise _unauthorized("token revoked; log in again")
    return Principal(user_id=claims.user_id, role=account.role)


async def require_authenticated(request: Request) -> Principal:
    """The caller of ``request``; 401 without a valid bearer token."""
    principal = await authenticate(request)
    if principal is None:
        raise _unauthorized("a bearer token is required")
    return principal


async def require_principal(request: Request, conn: Connection) -> Principal:
    """The caller, its account read on the request's own connection; 401 without a token."""
    principal = await authenticate(request, conn)
    if principal is None:
        raise _unauthorized("a bearer token is required")
    return principal


async def optional_principal(request: Request, conn: Connection) -> Principal | None:
    """The caller when a bearer token is present; anonymous callers get ``None``."""
    return await authenticate(request, conn)


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]

BEARER_SCHEME = "bearerAuth"
# OpenAPI security requirements: a token is required, or it is optional (it may show more).
BEARER_REQUIRED: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
BEARER_OPTIONAL: list[dict[str, list[str]]] = [{}, {BEARER_SCHEME: []}]
SECURITY_SCHEMES = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from /api/v1/auth/login, or the service token",
    }
}
