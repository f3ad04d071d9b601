"""What a security reviewer tries: weak secrets, throttled logins behind a proxy, lone
surrogates, the metrics endpoint and the security headers."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from pydantic import SecretStr

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("jwt_secret", "change-me", "JWT_SECRET is a placeholder"),
        ("service_token", "change-me", "SERVICE_TOKEN is a placeholder"),
        ("jwt_secret", "short-but-not-placeholder", "JWT_SECRET is shorter than 32"),
        ("metrics_token", "abc", "METRICS_TOKEN is shorter than 16"),
    ],
)
async def test_weak_secrets_refuse_to_start(database_url, field, value, problem):
    from core.settings import Settings
    from serving.app import create_app

    app = create_app(Settings(**{field: SecretStr(value)}))
    with pytest.raises(RuntimeError, match=problem):
        async with app.router.lifespan_context(app):
            pass


async def _app_client(settings_changes: dict) -> tuple:
    from core.settings import get_settings
    from serving.app import create_app

    app = create_app(get_settings().model_copy(update=settings_changes))
    app.state.response_cache.ttl = 0
    return app


async def test_metrics_behind_a_token(database_url):
    app = await _app_client({"metrics_token": SecretStr("m" * 24)})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 24})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer " + "m" * 24})
        assert right.status_code == 200
        assert "http_requests_total" in right.text


async def test_login_throttle_behind_a_trusted_proxy(database_url):
    app = await _app_client({"trusted_proxies": ["127.0.0.1"]})
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        payload = {"email": "victim@example.com", "password": PASSWORD, "name": "V"}
        await http.post("/api/v1/auth/register", json=payload)
        wrong = {"email": "victim@example.com", "password": "nope-nope"}
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        owner = {"X-Forwarded-For": "198.51.100.20"}
        for _ in range(5):
            response = await http.post("/api/v1/auth/login", json=wrong, headers=attacker)
            assert response.status_code == 401
        blocked = await http.post(
            "/api/v1/auth/login", json={**wrong, "password": PASSWORD}, headers=attacker
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        assert blocked.json()["error"]["code"] == "too_many_attempts"
        mine = await http.post(
            "/api/v1/auth/login", json={**wrong, "password": PASSWORD}, headers=owner
        )
        assert mine.status_code == 200


MARK = "<lone surrogate>"


def _raw(body: dict) -> dict:
    """A request whose JSON holds a lone surrogate where ``MARK`` is (httpx cannot encode one;
    JSON's ``\\u`` escape carries it as ASCII)."""
    text = json.dumps(body).replace(MARK, "\\ud800")
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


async def test_lone_surrogates_are_422_everywhere(client, db):
    organizer = make_user(db, role="organizer")
    event_id = make_event(db, organizer_id=organizer)
    event = {
        "title": MARK,
        "category": "music",
        "starts_at": "2030-01-01T10:00:00Z",
        "ends_at": "2030-01-01T12:00:00Z",
        "capacity": 5,
    }
    interaction = {"id": str(uuid.uuid4()), "event_id": event_id, "type": "view"}
    cases = [
        ("POST", "/api/v1/auth/login", {"email": MARK + "@e.com", "password": "12345678"}),
        ("POST", "/api/v1/auth/register", {"email": "a@e.com", "password": "1" * 8, "name": MARK}),
        ("POST", "/api/v1/events", event),
        ("PATCH", f"/api/v1/events/{event_id}", {"title": "x" + MARK}),
        ("POST", "/api/v1/interactions", {**interaction, "model_version": MARK}),
        ("POST", "/api/v1/interactions", {**interaction, "context": {MARK: "x"}}),
        ("POST", "/api/v1/interactions", {**interaction, "context": {"k": [MARK]}}),
        (
            "POST",
            "/api/v1/recommendations/feedback",
            {**interaction, "action": "click", "model_version": "v" + MARK},
        ),
    ]
    for method, path, body in cases:
        request = _raw(body)
        request["headers"].update(bearer(organizer))
        response = await client.request(method, path, **request)
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["error"]["code"] == "validation_error"
    titles = db.execute("SELECT count(*) AS n FROM app.events WHERE title LIKE 'x%%'").fetchone()
    assert titles["n"] == 0


async def test_security_headers_on_api_and_docs(client):
    api = await client.get("/api/v1/events")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["x-frame-options"] == "DENY"
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert api.headers["referrer-policy"] == "no-referrer"
    docs = await client.get("/docs")
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["content-security-policy"]
    error = await client.get("/nope", headers=SERVICE)
    assert error.headers["x-content-type-options"] == "nosniff"
