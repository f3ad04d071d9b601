"""The API's async connection pool and the dependency handing a pooled connection to a handler.

Connections run in autocommit mode: most requests are a single read, and the handlers that need
several statements to be atomic open an explicit ``conn.transaction()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from core.settings import Settings

# A request waiting longer than this for a connection is answered 503 rather than piling up
# behind a database that is down or saturated.
POOL_TIMEOUT_SECONDS = 3.0


def create_pool(settings: Settings) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    """A closed pool on the application database; the app lifespan opens and closes it.

    ``reconnect_timeout`` keeps the pool retrying forever in the background, so the API recovers
    by itself when the database comes back after a restart.
    """
    return AsyncConnectionPool(
        settings.app_database_url,
        min_size=settings.api_pool_min,
        max_size=max(settings.api_pool_max, settings.api_pool_min),
        timeout=POOL_TIMEOUT_SECONDS,
        reconnect_timeout=float("inf"),
        kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 3},
        open=False,
        name="api",
    )


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection[DictRow]]:
    """A pooled connection for the duration of one request."""
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


def connection(request: Request) -> AbstractAsyncContextManager[AsyncConnection[DictRow]]:
    """A pooled connection taken only when a handler needs one (after a cache miss)."""
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = request.app.state.pool
    return pool.connection()


Connection = Annotated[AsyncConnection[DictRow], Depends(get_connection)]
