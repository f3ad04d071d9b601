"""Health, metrics, request ids, offline docs and the common error shape."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_health_checks_the_database(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_request_id_is_echoed_or_generated(client):
    given = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id\n"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_metrics_count_requests_per_route_template(client):
    await client.get("/api/v1/events/12345")
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert (
        'http_requests_total{method="GET",route="/api/v1/events/{event_id}",status="404"}' in text
    )
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}' in text
    assert "api_db_pool_size" in text


async def test_unknown_path_uses_the_error_shape(client):
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": None}
    }


async def test_validation_errors_use_the_error_shape(client):
    response = await client.get("/api/v1/events", params={"limit": 0})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == ["query", "limit"]


async def test_docs_are_served_from_local_assets(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert re.findall(r"https?://", response.text) == []
    assets = re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', response.text)
    assert len(assets) == 3
    for asset in assets:
        fetched = await client.get(asset)
        assert fetched.status_code == 200
        assert len(fetched.content) > 500
    spec = await client.get("/openapi.json")
    assert "/api/v1/recommendations/events" in spec.json()["paths"]


async def test_gzip_and_cors_follow_the_settings(database_url):
    from core.settings import Settings
    from serving.app import create_app

    app = create_app(Settings(cors_origins=["https://app.example"], gzip_min_bytes=100))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as http:
        preflight = await http.options(
            "/api/v1/events",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        foreign = await http.get("/openapi.json", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers
        zipped = await http.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.json()["info"]["title"] == "Events Platform API"
