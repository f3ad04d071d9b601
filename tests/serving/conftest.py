"""Fixtures for the API tests: the real app over HTTP against the session's PostgreSQL.

Each test module starts from empty ``app``/``serving`` tables (``clean_db``) and inserts the rows
it needs with the helpers below; tokens are minted the way the login endpoint mints them.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

SERVING_TABLES = (
    "app.recommendation_feedback, app.interactions, app.registrations, app.events, app.users, "
    "serving.user_recommendations, serving.similar_events, serving.popular_events, "
    "serving.publications"
)
_emails = itertools.count(1)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """An autocommit connection for arranging rows, on tables emptied for this module."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(f"TRUNCATE {SERVING_TABLES} RESTART IDENTITY CASCADE")
        yield conn


@pytest.fixture(scope="module")
async def client(db: psycopg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on a freshly built app whose lifespan (the pool) is running."""
    from serving.app import create_app

    app = create_app()
    # Tests change rows between identical reads; both caches are tested on their own.
    app.state.response_cache.ttl = 0
    app.state.recommendation_answers.ttl = 0
    app.state.suggestions.max_stale = 0
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"
        ) as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        yield http


def bearer(user_id: int, token_version: int = 1) -> dict[str, str]:
    """Headers with a token for ``user_id`` as login mints it (the role is the account's)."""
    from serving.security import create_access_token

    token, _ = create_access_token(user_id, token_version)
    return {"Authorization": f"Bearer {token}"}


SERVICE = {"Authorization": "Bearer test-service-token"}


def make_user(
    db: psycopg.Connection,
    *,
    role: str = "attendee",
    city: str | None = None,
    interests: list[str] | None = None,
) -> int:
    row = db.execute(
        """INSERT INTO app.users (email, name, role, home_city, interests)
           VALUES (%s, %s, %s, %s, %s) RETURNING id""",
        (f"user{next(_emails)}@example.com", "Test User", role, city, interests or []),
    ).fetchone()
    return row["id"]


def make_event(db: psycopg.Connection, **fields: Any) -> int:
    starts = fields.pop("starts_at", datetime.now(UTC) + timedelta(days=10))
    values = {
        "title": "Event",
        "description": "",
        "category": "music",
        "tags": [],
        "starts_at": starts,
        "ends_at": fields.pop("ends_at", starts + timedelta(hours=3)),
        "city": "Berlin",
        "lat": None,
        "lng": None,
        "capacity": 100,
        "price": 0,
        "status": "published",
        "organizer_id": None,
    }
    values.update(fields)
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({key})s" for key in values)
    row = db.execute(
        f"INSERT INTO app.events ({columns}) VALUES ({placeholders}) RETURNING id", values
    ).fetchone()
    return row["id"]
