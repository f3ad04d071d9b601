"""Sign-up, login, logout, new passwords, and tokens checked against the account per request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.serving.conftest import SERVICE, bearer, make_user

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


async def sign_up(client, email: str, password: str = PASSWORD, **fields) -> dict:
    payload = {"email": email, "password": password, "name": "A", **fields}
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 202, response.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return login.json()


def auth(body: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']}"}


async def until_refused(client, headers: dict[str, str], seconds: float = 10.0):
    """The first 401 of ``/users/me``: a change made outside the API reaches the worker's
    account cache through the change listener, normally within milliseconds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get("/api/v1/users/me", headers=headers)
        if response.status_code == 401 or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.01)


async def test_sign_up_then_log_in_and_read_me(client):
    body = await sign_up(
        client, "Ana@Example.com", home_city="Berlin", interests=["music"], name=" Ana "
    )
    assert body["user"]["email"] == "Ana@Example.com"
    assert body["user"]["name"] == "Ana"
    assert body["user"]["role"] == "attendee"
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 24 * 3600
    assert "password" not in str(body["user"])
    me = await client.get("/api/v1/users/me", headers=auth(body))
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]


async def test_sign_up_does_not_reveal_a_taken_email(client, db):
    payload = {"email": "dup@example.com", "password": PASSWORD, "name": "A"}
    first = await client.post("/api/v1/auth/register", json=payload)
    again = await client.post(
        "/api/v1/auth/register", json={**payload, "email": "DUP@example.com", "password": "x" * 9}
    )
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    count = db.execute(
        "SELECT count(*) AS n FROM app.users WHERE lower(email) = 'dup@example.com'"
    ).fetchone()
    assert count["n"] == 1
    # The first password still holds: the second sign-up changed nothing.
    login = await client.post(
        "/api/v1/auth/login", json={"email": "dup@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_sign_up_survives_users_inserted_with_explicit_ids(client, db):
    db.execute(
        """INSERT INTO app.users (id, email, name)
           SELECT max(id) + 1, 'explicit@example.com', 'E' FROM app.users"""
    )
    await sign_up(client, "after-explicit@example.com")


async def test_self_service_admin_is_refused(client):
    payload = {"email": "boss@example.com", "password": PASSWORD, "name": "B", "role": "admin"}
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 422


async def test_bad_emails_are_422(client):
    for email in ("no-at.example.com", "a@b", "a b@example.com", "a@@example.com", "a@.com"):
        payload = {"email": email, "password": PASSWORD, "name": "B"}
        response = await client.post("/api/v1/auth/register", json=payload)
        assert response.status_code == 422, email


async def test_organiser_role_waits_for_an_admin(client, db):
    body = await sign_up(client, "org-to-be@example.com", role="organizer")
    assert body["user"]["role"] == "attendee"
    assert body["user"]["requested_role"] == "organizer"
    event = {
        "title": "Mine",
        "category": "music",
        "starts_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "ends_at": (datetime.now(UTC) + timedelta(days=3, hours=2)).isoformat(),
        "capacity": 10,
    }
    refused = await client.post("/api/v1/events", json=event, headers=auth(body))
    assert refused.status_code == 403

    admin = bearer(make_user(db, role="admin"))
    pending = await client.get("/api/v1/users/organizer-requests", headers=admin)
    assert [u["id"] for u in pending.json()["items"]] == [body["user"]["id"]]
    attendee = await client.get("/api/v1/users/organizer-requests", headers=auth(body))
    assert attendee.status_code == 403
    service = await client.patch(
        f"/api/v1/users/{body['user']['id']}", json={"role": "organizer"}, headers=SERVICE
    )
    assert service.status_code == 403

    granted = await client.patch(
        f"/api/v1/users/{body['user']['id']}", json={"role": "organizer"}, headers=admin
    )
    assert granted.status_code == 200
    assert (granted.json()["role"], granted.json()["requested_role"]) == ("organizer", None)
    # A new role revokes the old token; after logging in again the organiser creates events.
    stale = await client.post("/api/v1/events", json=event, headers=auth(body))
    assert stale.status_code == 401
    again = await client.post(
        "/api/v1/auth/login", json={"email": "org-to-be@example.com", "password": PASSWORD}
    )
    created = await client.post("/api/v1/events", json=event, headers=auth(again.json()))
    assert created.status_code == 201
    assert (await client.get("/api/v1/users/organizer-requests", headers=admin)).json()[
        "total"
    ] == 0


async def test_demoted_or_deleted_accounts_lose_their_rights_at_once(client, db):
    organizer = make_user(db, role="organizer")
    headers = bearer(organizer)
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    db.execute("UPDATE app.users SET role = 'attendee' WHERE id = %s", (organizer,))
    demoted = await until_refused(client, headers)
    assert demoted.status_code == 401
    assert demoted.json()["error"]["message"] == "token revoked; log in again"

    gone = make_user(db)
    assert (await client.get("/api/v1/users/me", headers=bearer(gone))).status_code == 200
    db.execute("DELETE FROM app.users WHERE id = %s", (gone,))
    deleted = await until_refused(client, bearer(gone))
    assert deleted.status_code == 401
    assert deleted.json()["error"]["message"] == "the account of this token no longer exists"


async def test_the_role_comes_from_the_account_not_the_token(client, db):
    from core.settings import get_settings

    attendee = make_user(db)
    claims = {"sub": str(attendee), "ver": 1, "role": "admin"}
    claims["exp"] = datetime.now(UTC) + timedelta(hours=1)
    token = jwt.encode(claims, get_settings().jwt_secret_value(), algorithm="HS256")
    other = make_user(db)
    response = await client.get(
        f"/api/v1/users/{other}/registrations", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


async def test_logout_revokes_every_token_of_the_account(client):
    body = await sign_up(client, "leaving@example.com")
    second = (
        await client.post(
            "/api/v1/auth/login", json={"email": "leaving@example.com", "password": PASSWORD}
        )
    ).json()
    out = await client.post("/api/v1/auth/logout", headers=auth(body))
    assert out.status_code == 204
    for token in (body, second):
        assert (await client.get("/api/v1/users/me", headers=auth(token))).status_code == 401
    assert (await client.post("/api/v1/auth/logout", headers=SERVICE)).status_code == 422


async def test_a_new_password_revokes_old_tokens(client):
    body = await sign_up(client, "rotate@example.com")
    wrong = await client.put(
        "/api/v1/users/me/password",
        json={"current_password": "not it at all", "new_password": "a new long one"},
        headers=auth(body),
    )
    assert wrong.status_code == 403
    changed = await client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a new long one"},
        headers=auth(body),
    )
    assert changed.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=auth(body))).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=auth(changed.json()))).status_code == 200
    old = await client.post(
        "/api/v1/auth/login", json={"email": "rotate@example.com", "password": PASSWORD}
    )
    assert old.status_code == 401


async def test_unknown_email_is_401_like_a_wrong_password(client):
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_expired_and_forged_tokens_are_refused(client, db):
    from core.settings import get_settings

    user = make_user(db)
    secret = get_settings().jwt_secret_value()
    past = datetime.now(UTC) - timedelta(minutes=5)
    expired = jwt.encode({"sub": str(user), "ver": 1, "exp": past}, secret, algorithm="HS256")
    forged = jwt.encode(
        {"sub": str(user), "ver": 1, "exp": past + timedelta(days=1)}, "x" * 32, "HS256"
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
    from core.settings import get_settings

    user = make_user(db)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    token = jwt.encode(
        {"sub": str(user), "ver": 1, "exp": soon},
        get_settings().jwt_secret_value(),
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
    expired = await client.get("/api/v1/users/me", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "token expired"
