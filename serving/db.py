"""The API's async connection pool and the dependency handing a pooled connection to a handler.

Connections run in autocommit mode: most requests are a single read, and the handlers that need
several statements to be atomic open an explicit ``conn.transaction()``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from core.settings import Settings

# A request waiting longer than this for a connection is answered 503 rather than piling up
# behind a saturated database.
POOL_TIMEOUT_SECONDS = 3.0
# Right after a database failure, waiting is pointless: requests give up much sooner, so clients
# get their 503 at once while the database is down.
DEGRADED_TIMEOUT_SECONDS = 0.25
DEGRADED_WINDOW_SECONDS = 2.0
# How long the pool retries one connection before giving up; requests then start a new attempt
# at once, so the pool reconnects within about a second of the database coming back instead of
# after an ever longer backoff.
RECONNECT_TIMEOUT_SECONDS = 2.0


def create_pool(settings: Settings) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    """A closed pool on the application database; the app lifespan opens and closes it."""
    return AsyncConnectionPool(
        settings.app_database_url,
        min_size=settings.api_pool_min,
        max_size=max(settings.api_pool_max, settings.api_pool_min),
        timeout=POOL_TIMEOUT_SECONDS,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 3},
        open=False,
        name="api",
    )


def mark_database_failure(app: Any) -> None:
    """Remember a failure so that the next requests fail fast instead of queueing."""
    app.state.database_failed_at = time.monotonic()


def wait_timeout(app: Any) -> float:
    """How long a request may wait for a connection, shorter just after a failure."""
    failed_at = getattr(app.state, "database_failed_at", None)
    if failed_at is not None and time.monotonic() - failed_at < DEGRADED_WINDOW_SECONDS:
        return DEGRADED_TIMEOUT_SECONDS
    return POOL_TIMEOUT_SECONDS


def connection(request: Request) -> AbstractAsyncContextManager[AsyncConnection[DictRow]]:
    """A pooled connection, taken when a handler needs one (e.g. after a cache miss)."""
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = request.app.state.pool
    return pool.connection(timeout=wait_timeout(request.app))


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection[DictRow]]:
    """A pooled connection for the duration of one request."""
    async with connection(request) as conn:
        yield conn


Connection = Annotated[AsyncConnection[DictRow], Depends(get_connection)]
