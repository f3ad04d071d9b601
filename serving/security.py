"""Passwords, tokens and the principal behind each request.

Passwords are hashed with argon2 (in a worker thread: hashing is deliberately slow). Tokens are
HS256 JWTs carrying the user id and role, so authorising a request needs no database round trip.
The static service token from the settings grants the ``service`` role to batch clients.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated

import jwt
from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.settings import get_settings
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


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (id and role) or the service client (no user id)."""

    user_id: int | None
    role: str

    @property
    def is_privileged(self) -> bool:
        """Admins and the service client may act on any user's data."""
        return self.role in PRIVILEGED_ROLES

    def may_act_for(self, user_id: int) -> bool:
        return self.is_privileged or self.user_id == user_id


async def hash_password(password: str) -> str:
    return await to_thread.run_sync(_hasher.hash, password)


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


def create_access_token(user_id: int, role: str) -> tuple[str, int]:
    """A signed token for the user and its lifetime in seconds."""
    settings = get_settings()
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + ttl}
    token = jwt.encode(claims, _signing_secret(), algorithm=JWT_ALGORITHM)
    return token, int(ttl.total_seconds())


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


# Tokens already verified, with their expiry: a client sends the same token on every request,
# and checking its signature and claims again costs more than the rest of a cached read.
_verified: dict[str, tuple[float, Principal]] = {}
_VERIFIED_MAX = 50_000


def principal_from_token(token: str) -> Principal:
    """The principal a bearer token stands for; raises 401 when it is invalid or expired."""
    known = _verified.get(token)
    if known is not None:
        expires, principal = known
        if time.time() < expires:
            return principal
        del _verified[token]
    settings = get_settings()
    service = settings.service_token
    if service is not None and hmac.compare_digest(
        token.encode(), service.get_secret_value().encode()
    ):
        return Principal(user_id=None, role=SERVICE_ROLE)
    try:
        claims = jwt.decode(
            token,
            _signing_secret(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
        principal = Principal(user_id=int(claims["sub"]), role=str(claims.get("role", "attendee")))
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise _unauthorized("invalid token") from None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[token] = (float(claims["exp"]), principal)
    return principal


_bearer = HTTPBearer(auto_error=False, description="JWT from /auth/login or the service token")
# How routes that read the header themselves declare the same scheme in the OpenAPI document.
BEARER_SECURITY: list[dict[str, list[str]]] = [{_bearer.scheme_name: []}]


def bearer_principal(request: Request) -> Principal:
    """The caller of ``request``, read straight from its ``Authorization`` header.

    The same rules as :func:`require_principal` (a missing or non-bearer header is a 401), for
    the hottest routes, where resolving the two-level dependency costs more than the lookup.
    """
    authorization = request.headers.get("authorization")
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if not token or scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    return principal_from_token(token)


async def optional_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller when a bearer token is present; anonymous callers get ``None``."""
    if credentials is None:
        return None
    return principal_from_token(credentials.credentials)


async def require_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller; requests without a valid bearer token are refused with 401."""
    if credentials is None:
        raise _unauthorized("a bearer token is required")
    return principal_from_token(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


class LoginThrottle:
    """Refuses logins for an account (or client address) after repeated failures.

    In-process and per worker: enough to make online guessing slow. Behind several workers or
    hosts, a shared store (the database or a cache) would hold these counters instead.
    """

    def __init__(self, max_failures: int = 5, window_seconds: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if now - t < self.window_seconds]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def retry_after(self, *keys: str) -> int:
        """Seconds until another attempt is allowed for any of ``keys``; 0 when allowed now."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= self.max_failures:
                wait = max(wait, self.window_seconds - (now - recent[-self.max_failures]))
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        if len(self._failures) > 100_000:  # bound memory under a spray of random e-mails
            self._failures.clear()
        for key in keys:
            self._failures.setdefault(key, []).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


async def login_throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle
