"""Register, log in, tokens and the login throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.serving.conftest import SERVICE

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


async def test_register_returns_user_and_token_usable_for_me(client):
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "Ana@Example.com",
            "password": PASSWORD,
            "name": "Ana",
            "role": "organizer",
            "home_city": "Berlin",
            "interests": ["music"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "Ana@Example.com"
    assert body["user"]["role"] == "organizer"
    assert "password" not in str(body["user"])
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]


async def test_email_is_unique_case_insensitively(client, db):
    payload = {"email": "dup@example.com", "password": PASSWORD, "name": "A"}
    assert (await client.post("/api/v1/auth/register", json=payload)).status_code == 201
    payload["email"] = "DUP@example.com"
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


async def test_register_survives_users_inserted_with_explicit_ids(client, db):
    db.execute(
        """INSERT INTO app.users (id, email, name)
           SELECT max(id) + 1, 'explicit@example.com', 'E' FROM app.users"""
    )
    payload = {"email": "after-explicit@example.com", "password": PASSWORD, "name": "B"}
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 201


async def test_self_service_admin_is_refused(client):
    payload = {"email": "boss@example.com", "password": PASSWORD, "name": "B", "role": "admin"}
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 422


async def test_login_returns_user_and_token(client):
    payload = {"email": "login@example.com", "password": PASSWORD, "name": "L"}
    created = (await client.post("/api/v1/auth/register", json=payload)).json()
    response = await client.post(
        "/api/v1/auth/login", json={"email": "LOGIN@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == created["user"]["id"]
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 24 * 3600


async def test_wrong_password_then_throttled(client):
    payload = {"email": "victim@example.com", "password": PASSWORD, "name": "V"}
    await client.post("/api/v1/auth/register", json=payload)
    wrong = {"email": "victim@example.com", "password": "nope-nope"}
    for _ in range(5):
        response = await client.post("/api/v1/auth/login", json=wrong)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credentials"
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": "victim@example.com", "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_unknown_email_is_401_like_a_wrong_password(client):
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401


async def test_expired_and_forged_tokens_are_refused(client):
    from core.settings import get_settings

    secret = get_settings().jwt_secret_value()
    past = datetime.now(UTC) - timedelta(minutes=5)
    expired = jwt.encode({"sub": "1", "role": "admin", "exp": past}, secret, algorithm="HS256")
    forged = jwt.encode(
        {"sub": "1", "role": "admin", "exp": past + timedelta(days=1)}, "x" * 32, "HS256"
    )
    for token, message in ((expired, "token expired"), (forged, "invalid token")):
        response = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["message"] == message


async def test_service_token_has_no_user(client):
    response = await client.get("/api/v1/users/me", headers=SERVICE)
    assert response.status_code == 404


async def test_a_token_stops_working_when_it_expires(client, db):
    import asyncio

    from core.settings import get_settings

    user = db.execute(
        "INSERT INTO app.users (email, name) VALUES ('short@example.com', 'S') RETURNING id"
    ).fetchone()["id"]
    soon = datetime.now(UTC) + timedelta(seconds=1)
    token = jwt.encode(
        {"sub": str(user), "role": "attendee", "exp": soon},
        get_settings().jwt_secret_value(),
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
    expired = await client.get("/api/v1/users/me", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "token expired"
