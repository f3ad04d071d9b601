"""The API's async connection pool and the dependency handing a pooled connection to a handler.

Connections run in autocommit mode: most requests are a single read, and the handlers that need
several statements to be atomic open an explicit ``conn.transaction()``.

A busy pool is back-pressure, not an outage: a request queues for a connection up to
``API_POOL_WAIT_SECONDS`` (behind at most ``API_POOL_MAX_WAITING`` others), and only what cannot
be served within that is shed with a 503 and ``Retry-After``. A database that fails (a broken
connection, a refused connect) is different: right after such a failure waiting is pointless,
so requests give up within a fraction of a second until it answers again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from core.settings import Settings

# Right after a database failure, requests give up this soon, so clients get their 503 at once
# while the database is down.
DEGRADED_TIMEOUT_SECONDS = 0.25
DEGRADED_WINDOW_SECONDS = 2.0
# How long the pool retries one connection before giving up; requests then start a new attempt
# at once, so the pool reconnects within about a second of the database coming back instead of
# after an ever longer backoff.
RECONNECT_TIMEOUT_SECONDS = 2.0


async def _configure(conn: AsyncConnection[DictRow]) -> None:
    # Events carry JSON columns (one or more per listed event); orjson decodes them several
    # times faster than the standard library.
    set_json_loads(orjson.loads, conn)


def create_pool(settings: Settings) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    """A closed pool on the application database; the app lifespan opens and closes it."""
    return AsyncConnectionPool(
        settings.app_database_url,
        min_size=settings.api_pool_min,
        max_size=max(settings.api_pool_max, settings.api_pool_min),
        timeout=settings.api_pool_wait_seconds,
        max_waiting=settings.api_pool_max_waiting,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 3},
        configure=_configure,
        open=False,
        name="api",
    )


def mark_database_failure(app: Any) -> None:
    """Remember a failure so that the next requests fail fast instead of queueing."""
    app.state.database_failed_at = time.monotonic()


def database_failing(app: Any) -> bool:
    """Whether the pool failed to connect since this was last asked (or a failure is recent).

    Tells a pool that waits on an unreachable database from one that is merely busy: only the
    first keeps counting connection errors.
    """
    pool = getattr(app.state, "pool", None)
    errors = pool.get_stats().get("connections_errors", 0) if pool is not None else 0
    seen = getattr(app.state, "connection_errors_seen", 0)
    app.state.connection_errors_seen = errors
    return errors > seen or _recently_failed(app)


def _recently_failed(app: Any) -> bool:
    failed_at = getattr(app.state, "database_failed_at", None)
    return failed_at is not None and time.monotonic() - failed_at < DEGRADED_WINDOW_SECONDS


def wait_timeout(app: Any) -> float | None:
    """How long a request may queue for a connection: the pool's own, shorter after a failure."""
    return DEGRADED_TIMEOUT_SECONDS if _recently_failed(app) else None


def connection(request: Request) -> AbstractAsyncContextManager[AsyncConnection[DictRow]]:
    """A pooled connection, taken when a handler needs one (e.g. after a cache miss)."""
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = request.app.state.pool
    return pool.connection(timeout=wait_timeout(request.app))


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection[DictRow]]:
    """A pooled connection for the duration of one request."""
    async with connection(request) as conn:
        yield conn


Connection = Annotated[AsyncConnection[DictRow], Depends(get_connection)]
