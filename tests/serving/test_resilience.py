"""The API survives a database restart: it fails fast while the server is down and recovers by
itself once it is back, without restarting the API.

This module runs its own PostgreSQL so that stopping it disturbs no other test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from anyio import create_task_group, sleep, to_thread

from core import migrate, pgserver
from core.settings import Settings
from tests.ports import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def own_server(state_dir: Path, database_url: str) -> Iterator[tuple[Path, int, str]]:
    pgdata = state_dir / "pg-resilience"
    port = free_port()
    pgserver.start(pgdata, port, for_tests=True)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    migrate.apply(url)
    try:
        yield pgdata, port, url
    finally:
        pgserver.stop(pgdata)


async def test_database_restart_under_load(own_server):
    from serving.app import create_app

    pgdata, port, url = own_server
    app = create_app(Settings(database_url=url, api_pool_min=2, api_pool_max=4))
    app.state.response_cache.ttl = 0  # every request must reach the database
    transport = httpx.ASGITransport(app=app)
    statuses: list[int] = []
    running = True

    async def load(client: httpx.AsyncClient) -> None:
        while running:
            statuses.append((await client.get("/api/v1/events?limit=5")).status_code)
            await sleep(0.01)

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api.test") as client,
        create_task_group() as background,
    ):
        assert (await client.get("/api/v1/events")).status_code == 200
        for _ in range(8):
            background.start_soon(load, client)

        await to_thread.run_sync(pgserver.stop, pgdata)
        for path in ("/api/v1/events", "/health", "/api/v1/search/events?q=x"):
            started = time.monotonic()
            response = await client.get(path)
            assert response.status_code == 503
            assert time.monotonic() - started < 1.0
        body = (await client.get("/api/v1/events")).json()
        assert body["error"]["code"] == "database_unavailable"
        # Changes could go unheard now: no recommendation answer may come from memory.
        answers = app.state.recommendation_answers
        assert not answers.listening

        await to_thread.run_sync(lambda: pgserver.start(pgdata, port, for_tests=True))
        back = time.monotonic()
        while True:
            response = await client.get("/api/v1/events")
            if response.status_code == 200:
                break
            assert time.monotonic() - back < 5, response.text
            await sleep(0.1)
        assert (await client.get("/health")).json() == {"status": "ok", "database": "ok"}
        while not answers.listening:
            assert time.monotonic() - back < 5, "the change listener did not reconnect"
            await sleep(0.05)
        await sleep(0.3)
        running = False
    assert set(statuses) <= {200, 503}
    assert statuses[-1] == 200
    assert 503 in statuses
