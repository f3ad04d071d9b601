"""A user's own account over HTTP: profile updates the recommender reads, and deletion that
removes personal data but keeps the pseudonymous id."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from serving.accounts import profile_changes
from serving.errors import ApiError
from tests.serving.conftest import bearer, make_event, make_user
from tests.serving.test_auth import PASSWORD, auth, sign_up

pytestmark = pytest.mark.anyio


async def test_a_profile_update_changes_only_what_it_names(client: httpx.AsyncClient) -> None:
    account = await sign_up(client, "profile@example.com", home_city="Porto")
    changed = await client.patch(
        "/api/v1/users/me",
        json={"home_city": "Lisbon", "home_lat": 38.72, "home_lng": -9.14, "interests": ["jazz"]},
        headers=auth(account),
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["home_city"], body["home_lat"], body["home_lng"]) == ("Lisbon", 38.72, -9.14)
    assert (body["interests"], body["name"]) == (["jazz"], "A")
    cleared = await client.patch(
        "/api/v1/users/me", json={"home_lat": None, "home_lng": None}, headers=auth(account)
    )
    assert (cleared.json()["home_lat"], cleared.json()["home_city"]) == (None, "Lisbon")


@pytest.mark.parametrize(
    "body",
    [
        {"home_lat": 95.0, "home_lng": 1.0},
        {"home_lat": 10.0},
        {"interests": ["x" * 51]},
        {"interests": None},
        {"name": " "},
        {"email": "other@example.com"},
        {"role": "admin"},
    ],
)
async def test_a_bad_profile_update_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    account = await sign_up(client, f"bad-{len(str(body))}-{sorted(body)[0]}@example.com")
    response = await client.patch("/api/v1/users/me", json=body, headers=auth(account))
    assert response.status_code == 422
    me = (await client.get("/api/v1/users/me", headers=auth(account))).json()
    assert (me["role"], me["home_lat"], me["interests"]) == ("attendee", None, [])


async def test_deleting_an_account_removes_personal_data_and_keeps_the_id(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    account = await sign_up(client, "leaving-for-good@example.com", home_city="Oslo")
    user_id = account["user"]["id"]
    event_id = make_event(db)
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=auth(account))
    db.execute(
        "INSERT INTO raw.users (user_id, email, name, role, created_at, updated_at, _source)"
        " VALUES (%s, 'leaving-for-good@example.com', 'Landed Name', 'attendee', now(), now(),"
        " 'users/test.csv') ON CONFLICT (user_id) DO NOTHING",
        (user_id,),
    )
    wrong = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": "not it at all"}, headers=auth(account)
    )
    assert wrong.status_code == 403
    gone = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=auth(account)
    )
    assert gone.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=auth(account))).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": "leaving-for-good@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401
    row = db.execute(
        "SELECT email, name, password_hash, home_city, deleted_at IS NOT NULL AS deleted"
        " FROM app.users WHERE id = %s",
        (user_id,),
    ).fetchone()
    assert row == {
        "email": f"deleted-{user_id}@deleted.invalid",
        "name": "",
        "password_hash": None,
        "home_city": None,
        "deleted": True,
    }
    landed = db.execute("SELECT email, name FROM raw.users WHERE user_id = %s", (user_id,))
    landed_row = landed.fetchone()
    db.execute("DELETE FROM raw.users WHERE user_id = %s", (user_id,))
    assert landed_row == {"email": f"deleted-{user_id}@deleted.invalid", "name": ""}
    kept = db.execute("SELECT status FROM app.registrations WHERE user_id = %s", (user_id,))
    assert [row["status"] for row in kept.fetchall()] == ["cancelled"]
    # The e-mail is free again.
    again = await sign_up(client, "leaving-for-good@example.com")
    assert again["user"]["id"] != user_id


async def test_a_deleted_account_gives_its_places_to_the_waitlist(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    event_id = make_event(db, capacity=1)
    leaving = await sign_up(client, "seat-holder@example.com")
    waiting = make_user(db)
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=auth(leaving))
    queued = await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(waiting))
    assert queued.json()["status"] == "waitlisted"
    await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=auth(leaving)
    )
    status = db.execute(
        "SELECT status FROM app.registrations WHERE user_id = %s AND event_id = %s",
        (waiting, event_id),
    ).fetchone()["status"]
    assert status == "confirmed"


async def test_only_admins_delete_other_accounts(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    admin, victim, other = make_user(db, role="admin"), make_user(db), make_user(db)
    assert (
        await client.delete(f"/api/v1/users/{victim}", headers=bearer(other))
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/users/{victim}", headers=bearer(admin))
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/users/{victim}", headers=bearer(admin))
    ).status_code == 404
    name = db.execute("SELECT name FROM app.users WHERE id = %s", (victim,)).fetchone()["name"]
    assert name == ""


def test_home_coordinates_go_together_on_the_merged_profile() -> None:
    current = {"home_lat": 1.0, "home_lng": 2.0}
    assert profile_changes({"home_lat": 3.0}, current) == {"home_lat": 3.0}
    with pytest.raises(ApiError):
        profile_changes({"home_lat": None}, current)


async def test_a_refreshed_token_works_and_is_revoked_by_logout(client: httpx.AsyncClient) -> None:
    account = await sign_up(client, "refresh-me@example.com")
    refreshed = await client.post("/api/v1/auth/refresh", headers=auth(account))
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert fresh["user"]["id"] == account["user"]["id"]
    assert fresh["expires_in"] > 0
    assert (await client.get("/api/v1/users/me", headers=auth(fresh))).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=auth(fresh))).status_code == 204
    for body in (account, fresh):
        assert (await client.get("/api/v1/users/me", headers=auth(body))).status_code == 401
        assert (await client.post("/api/v1/auth/refresh", headers=auth(body))).status_code == 401


async def test_a_later_landed_file_does_not_bring_a_deleted_account_back(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    from pipelines.ingest.assets import _PUBLISH_USERS

    account = await sign_up(client, "erased@example.com")
    user_id = account["user"]["id"]
    await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=auth(account)
    )
    db.execute(
        "INSERT INTO raw.users (user_id, email, name, role, created_at, updated_at, _source)"
        " VALUES (%s, 'erased@example.com', 'Back Again', 'attendee', now(),"
        " now() + interval '1 day', 'users/later.csv')"
        " ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, name = excluded.name,"
        " updated_at = excluded.updated_at",
        (user_id,),
    )
    db.execute(_PUBLISH_USERS)
    row = db.execute("SELECT email, name FROM app.users WHERE id = %s", (user_id,)).fetchone()
    db.execute("DELETE FROM raw.users WHERE user_id = %s", (user_id,))
    assert row == {"email": f"deleted-{user_id}@deleted.invalid", "name": ""}
