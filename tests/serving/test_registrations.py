"""Registrations: capacity under concurrency, waitlist promotion, idempotency and privacy."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio


def counts(db: psycopg.Connection, event_id: int) -> dict[str, int]:
    rows = db.execute(
        "SELECT status, count(*) AS n FROM app.registrations WHERE event_id = %s GROUP BY status",
        (event_id,),
    ).fetchall()
    return {row["status"]: row["n"] for row in rows}


@pytest.fixture
def busy_core() -> Iterator[None]:
    """Another process keeps one core busy, as a neighbour on a shared machine would."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


async def test_200_concurrent_registrations_on_a_busy_machine_all_get_their_answer(
    client, db, busy_core
):
    """A busy pool queues (back-pressure) instead of shedding: every request is answered 201,
    confirmed or waitlisted, and the capacity holds exactly."""
    event_id = make_event(db, capacity=50)
    users = [make_user(db) for _ in range(200)]

    async def take_place(user_id: int) -> int:
        response = await client.post(
            f"/api/v1/events/{event_id}/registrations", headers=bearer(user_id)
        )
        return response.status_code

    statuses = await asyncio.gather(*(take_place(u) for u in users))
    assert statuses == [201] * 200
    assert counts(db, event_id) == {"confirmed": 50, "waitlisted": 150}
    positions = db.execute(
        """SELECT array_agg(queue_order ORDER BY queue_order) AS o FROM app.registrations
           WHERE event_id = %s AND status = 'waitlisted'""",
        (event_id,),
    ).fetchone()["o"]
    assert len(set(positions)) == 150


async def test_registering_twice_returns_the_same_registration(client, db):
    event_id = make_event(db, capacity=1)
    user = make_user(db)
    first = await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(user))
    again = await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(user))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "confirmed"
    assert counts(db, event_id) == {"confirmed": 1}


async def test_cancelling_promotes_the_first_waitlisted(client, db):
    event_id = make_event(db, capacity=1)
    first, second, third = (make_user(db) for _ in range(3))
    for user in (first, second, third):
        await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(user))
    queued = await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(third))
    assert queued.json()["status"] == "waitlisted"
    assert queued.json()["waitlist_position"] == 2
    cancelled = await client.delete(
        f"/api/v1/events/{event_id}/registrations/{first}", headers=bearer(first)
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    rows = db.execute(
        "SELECT user_id, status FROM app.registrations WHERE event_id = %s", (event_id,)
    )
    statuses = {row["user_id"]: row["status"] for row in rows}
    assert statuses == {first: "cancelled", second: "confirmed", third: "waitlisted"}
    twice = await client.delete(
        f"/api/v1/events/{event_id}/registrations/{first}", headers=bearer(first)
    )
    assert twice.status_code == 200
    assert counts(db, event_id) == {"cancelled": 1, "confirmed": 1, "waitlisted": 1}


async def test_re_registering_after_cancel_joins_the_back_of_the_queue(client, db):
    event_id = make_event(db, capacity=1)
    a, b = make_user(db), make_user(db)
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(a))
    await client.delete(f"/api/v1/events/{event_id}/registrations/{a}", headers=bearer(a))
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(b))
    back = await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(a))
    assert back.status_code == 201
    assert back.json()["status"] == "waitlisted"


async def test_closed_events_refuse_registrations(client, db):
    user = make_user(db, role="organizer")
    for status in ("cancelled", "draft"):
        event_id = make_event(db, status=status, organizer_id=user)
        response = await client.post(
            f"/api/v1/events/{event_id}/registrations", headers=bearer(user)
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "registration_closed"
    missing = await client.post("/api/v1/events/99999999/registrations", headers=bearer(user))
    assert missing.status_code == 404


async def test_registrations_are_private(client, db):
    organizer, a, b = make_user(db, role="organizer"), make_user(db), make_user(db)
    event_id = make_event(db, organizer_id=organizer)
    for user in (a, b):
        await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(user))
    url = f"/api/v1/events/{event_id}/registrations"
    own = await client.get(url, headers=bearer(a))
    assert [item["user_id"] for item in own.json()["items"]] == [a]
    everyone = await client.get(url, headers=bearer(organizer))
    assert everyone.json()["total"] == 2
    assert (await client.get(url)).status_code == 401
    other = await client.post(url, json={"user_id": a}, headers=bearer(b))
    assert other.status_code == 403
    cancel_other = await client.delete(f"{url}/{a}", headers=bearer(b))
    assert cancel_other.status_code == 403
    mine = await client.get(f"/api/v1/users/{a}/registrations", headers=bearer(a))
    assert mine.json()["total"] == 1
    theirs = await client.get(f"/api/v1/users/{a}/registrations", headers=bearer(b))
    assert theirs.status_code == 403
    service = await client.get(f"/api/v1/users/{a}/registrations", headers=SERVICE)
    assert service.json()["items"][0]["event_id"] == event_id


async def test_service_registers_on_behalf_of_a_user(client, db):
    event_id = make_event(db)
    user = make_user(db)
    response = await client.post(
        f"/api/v1/events/{event_id}/registrations", json={"user_id": user}, headers=SERVICE
    )
    assert response.status_code == 201
    assert response.json()["user_id"] == user
    unknown = await client.post(
        f"/api/v1/events/{event_id}/registrations", json={"user_id": 99999999}, headers=SERVICE
    )
    assert unknown.status_code == 422


async def test_raising_capacity_promotes_waitlisted_users(client, db):
    organizer = make_user(db, role="organizer")
    event_id = make_event(db, capacity=1, organizer_id=organizer)
    users = [make_user(db) for _ in range(3)]
    for user in users:
        await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(user))
    response = await client.patch(
        f"/api/v1/events/{event_id}", json={"capacity": 2}, headers=bearer(organizer)
    )
    assert response.status_code == 200
    assert counts(db, event_id) == {"confirmed": 2, "waitlisted": 1}
