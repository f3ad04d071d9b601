"""A saturated pool sheds with 503 + Retry-After and keeps serving; it is not an outage."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_a_busy_pool_sheds_what_waited_too_long_and_is_not_an_outage(database_url):
    from core.settings import get_settings
    from serving.app import create_app

    settings = get_settings().model_copy(
        update={"api_pool_min": 1, "api_pool_max": 1, "api_pool_wait_seconds": 0.2}
    )
    app = create_app(settings)
    app.state.response_cache.ttl = 0
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        assert (await http.get("/api/v1/events")).status_code == 200
        async with app.state.pool.connection():  # every connection is busy
            shed = await http.get("/api/v1/events")
        assert shed.status_code == 503
        assert shed.json()["error"]["code"] == "overloaded"
        assert shed.headers["retry-after"] == "2"
        # Not taken for a database failure: the next request waits its normal turn.
        assert getattr(app.state, "database_failed_at", None) is None
        assert (await http.get("/api/v1/events")).status_code == 200
