"""Check-in over HTTP: attendance set one by one and in batch, by whom and when, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from serving.check_in import check_in_window, refusals
from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio


def _register(db: psycopg.Connection, user_id: int, event_id: int, status: str) -> None:
    db.execute(
        "INSERT INTO app.registrations (user_id, event_id, status) VALUES (%s, %s, %s)",
        (user_id, event_id, status),
    )


def _statuses(db: psycopg.Connection, event_id: int) -> dict[int, str]:
    rows = db.execute(
        "SELECT user_id, status FROM app.registrations WHERE event_id = %s", (event_id,)
    ).fetchall()
    return {row["user_id"]: row["status"] for row in rows}


def _attend_interactions(db: psycopg.Connection, event_id: int) -> list[int]:
    rows = db.execute(
        "SELECT user_id FROM app.interactions WHERE event_id = %s AND type = 'attend'"
        " ORDER BY user_id",
        (event_id,),
    ).fetchall()
    return [row["user_id"] for row in rows]


@pytest.fixture
def tonight(db: psycopg.Connection) -> tuple[int, int, list[int]]:
    """An event that started an hour ago, its organiser and three confirmed attendees."""
    organizer = make_user(db, role="organizer")
    started = datetime.now(UTC) - timedelta(hours=1)
    event_id = make_event(db, organizer_id=organizer, starts_at=started)
    attendees = [make_user(db) for _ in range(3)]
    for user_id in attendees:
        _register(db, user_id, event_id, "confirmed")
    return event_id, organizer, attendees


async def test_one_attendee_is_checked_in_once(
    client: httpx.AsyncClient, db: psycopg.Connection, tonight: tuple[int, int, list[int]]
) -> None:
    event_id, organizer, (first, second, _) = tonight
    url = f"/api/v1/events/{event_id}/registrations/{first}/check-in"
    response = await client.post(url, headers=bearer(organizer))
    assert response.status_code == 200, response.text
    assert response.json() == {"checked_in": [first], "already_checked_in": []}
    again = await client.post(url, headers=bearer(organizer))
    assert again.json() == {"checked_in": [], "already_checked_in": [first]}
    assert _statuses(db, event_id)[first] == "attended"
    assert _statuses(db, event_id)[second] == "confirmed"
    assert _attend_interactions(db, event_id) == [first]
    # Attended still holds the place.
    event = (await client.get(f"/api/v1/events/{event_id}")).json()
    assert event["seats_left"] == event["capacity"] - 3


async def test_a_batch_is_all_or_nothing_and_names_each_refusal(
    client: httpx.AsyncClient, db: psycopg.Connection, tonight: tuple[int, int, list[int]]
) -> None:
    event_id, organizer, attendees = tonight
    waitlisted, stranger = make_user(db), make_user(db)
    _register(db, waitlisted, event_id, "waitlisted")
    url = f"/api/v1/events/{event_id}/check-ins"
    refused = await client.post(
        url, json={"user_ids": [*attendees, waitlisted, stranger]}, headers=bearer(organizer)
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["refused"] == [
        {"user_id": waitlisted, "reason": "registration is waitlisted, not confirmed"},
        {"user_id": stranger, "reason": "not registered for this event"},
    ]
    assert set(_statuses(db, event_id).values()) == {"confirmed", "waitlisted"}
    assert _attend_interactions(db, event_id) == []
    done = await client.post(url, json={"user_ids": attendees[::-1]}, headers=SERVICE)
    assert done.json() == {"checked_in": sorted(attendees), "already_checked_in": []}
    assert _attend_interactions(db, event_id) == sorted(attendees)


async def test_only_who_manages_the_event_checks_in(
    client: httpx.AsyncClient, db: psycopg.Connection, tonight: tuple[int, int, list[int]]
) -> None:
    event_id, _, (first, *_) = tonight
    other_organizer = make_user(db, role="organizer")
    url = f"/api/v1/events/{event_id}/registrations/{first}/check-in"
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=bearer(first))).status_code == 403
    assert (await client.post(url, headers=bearer(other_organizer))).status_code == 403
    assert _statuses(db, event_id)[first] == "confirmed"


async def test_check_in_is_closed_long_before_the_start(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    organizer, attendee = make_user(db, role="organizer"), make_user(db)
    event_id = make_event(
        db, organizer_id=organizer, starts_at=datetime.now(UTC) + timedelta(days=3)
    )
    _register(db, attendee, event_id, "confirmed")
    response = await client.post(
        f"/api/v1/events/{event_id}/check-ins",
        json={"user_ids": [attendee]},
        headers=bearer(organizer),
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "check_in_closed"


@pytest.mark.parametrize(
    "body", [{"user_ids": []}, {"user_ids": ["7"]}, {"user_ids": [0]}, {"ids": [1]}]
)
async def test_a_malformed_batch_is_a_422(
    client: httpx.AsyncClient, db: psycopg.Connection, body: dict[str, object]
) -> None:
    organizer = make_user(db, role="organizer")
    event_id = make_event(db, organizer_id=organizer)
    response = await client.post(
        f"/api/v1/events/{event_id}/check-ins", json=body, headers=bearer(organizer)
    )
    assert response.status_code == 422


def test_the_window_runs_from_a_day_before_to_a_week_after() -> None:
    start = datetime(2027, 5, 1, 18, tzinfo=UTC)
    assert check_in_window(start, start + timedelta(hours=3)) == (
        datetime(2027, 4, 30, 18, tzinfo=UTC),
        datetime(2027, 5, 8, 21, tzinfo=UTC),
    )
    assert refusals([1, 2, 3, 4], {1: "confirmed", 2: "attended", 3: "cancelled"}) == {
        3: "registration is cancelled, not confirmed",
        4: "not registered for this event",
    }
