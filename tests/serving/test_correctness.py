"""What the API promises at its edges: places are never taken away by an edit, dates are
plausible, sorts and parameters are checked, filters ignore case, methods are announced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def new_event(**overrides):
    body = {
        "title": "Rust meetup",
        "category": "tech",
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(hours=2)).isoformat(),
        "capacity": 80,
        "status": "published",
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def organizer(db: psycopg.Connection) -> int:
    return make_user(db, role="organizer")


async def test_capacity_below_the_places_taken_is_409(client, db, organizer):
    event_id = make_event(db, capacity=10, organizer_id=organizer)
    for _ in range(7):
        response = await client.post(
            f"/api/v1/events/{event_id}/registrations", headers=bearer(make_user(db))
        )
        assert response.json()["status"] == "confirmed"
    url = f"/api/v1/events/{event_id}"
    refused = await client.patch(url, json={"capacity": 2}, headers=bearer(organizer))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "capacity_below_taken"
    assert refused.json()["error"]["details"] == {"taken": 7}
    assert (await client.get(url)).json()["capacity"] == 10
    exact = await client.patch(url, json={"capacity": 7}, headers=bearer(organizer))
    assert exact.status_code == 200
    assert exact.json()["capacity"] == 7


async def test_waitlist_positions_are_unique_and_in_lock_order(client, db):
    """Transactions that start before a rival but win the lock after it queue behind it."""
    event_id = make_event(db, capacity=1)
    first, early, late = make_user(db), make_user(db), make_user(db)
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(first))
    # ``early`` starts its transaction first, but ``late`` wins the event's lock first.
    with psycopg.connect(db.info.dsn) as early_conn:
        early_conn.execute("SELECT now()")  # the transaction (and its now()) starts here
        late_answer = await client.post(
            f"/api/v1/events/{event_id}/registrations", headers=bearer(late)
        )
        early_conn.execute(
            """INSERT INTO app.registrations (user_id, event_id, status)
               VALUES (%s, %s, 'waitlisted')""",
            (early, event_id),
        )
    assert late_answer.json()["waitlist_position"] == 1
    again = await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(early))
    assert again.json()["waitlist_position"] == 2
    await client.delete(f"/api/v1/events/{event_id}/registrations/{first}", headers=bearer(first))
    promoted = db.execute(
        "SELECT user_id FROM app.registrations WHERE event_id = %s AND status = 'confirmed'",
        (event_id,),
    ).fetchone()
    assert promoted["user_id"] == late


@pytest.mark.parametrize(
    ("starts_at", "bound"),
    [
        (datetime(2001, 5, 1, tzinfo=UTC), "between now and"),
        (datetime(9999, 5, 1, tzinfo=UTC), "between now and"),
    ],
)
async def test_implausible_event_dates_are_422_with_the_bound(client, organizer, starts_at, bound):
    body = new_event(
        starts_at=starts_at.isoformat(), ends_at=(starts_at + timedelta(hours=1)).isoformat()
    )
    response = await client.post("/api/v1/events", json=body, headers=bearer(organizer))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "date_out_of_range"
    assert bound in error["message"]
    latest = datetime.fromisoformat(error["details"]["latest"])
    assert timedelta(days=5 * 365) < latest - datetime.now(UTC) < timedelta(days=5 * 367)


async def test_moving_an_event_into_the_past_is_422_but_editing_a_past_one_is_not(
    client, db, organizer
):
    past = make_event(db, organizer_id=organizer, starts_at=datetime.now(UTC) - timedelta(days=2))
    edited = await client.patch(
        f"/api/v1/events/{past}", json={"description": "photos"}, headers=bearer(organizer)
    )
    assert edited.status_code == 200
    upcoming = make_event(db, organizer_id=organizer)
    moved = await client.patch(
        f"/api/v1/events/{upcoming}",
        json={"starts_at": "2001-01-01T10:00:00Z", "ends_at": "2001-01-01T12:00:00Z"},
        headers=bearer(organizer),
    )
    assert moved.status_code == 422


async def test_an_interaction_dated_1900_is_422_with_the_bound(client, db):
    user = make_user(db)
    event_id = make_event(db)
    body = {
        "id": str(uuid.uuid4()),
        "event_id": event_id,
        "type": "view",
        "occurred_at": "1900-01-01T00:00:00Z",
    }
    response = await client.post("/api/v1/interactions", json=body, headers=bearer(user))
    assert response.status_code == 422
    message = response.json()["error"]["details"][0]["msg"]
    assert "must be between 2025-01-01T00:00:00+00:00 and" in message
    ahead = {**body, "occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    assert (
        await client.post("/api/v1/interactions", json=ahead, headers=bearer(user))
    ).status_code == 422
    feedback = {**body, "action": "click", "model_version": "v1"}
    del feedback["type"]
    response = await client.post(
        "/api/v1/recommendations/feedback", json=feedback, headers=bearer(user)
    )
    assert response.status_code == 422


async def test_empty_batches_are_refused_by_the_schema(client, db):
    user = make_user(db)
    for path in ("/api/v1/interactions", "/api/v1/recommendations/feedback"):
        response = await client.post(path, json=[], headers=bearer(user))
        assert response.status_code == 422
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/api/v1/interactions"]["post"]["requestBody"]["content"]
    batch = next(s for s in body["application/json"]["schema"]["anyOf"] if "items" in s)
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)


async def test_sorts_and_unknown_parameters(client, db):
    cheap = make_event(db, title="Cheap", price=1, starts_at=START + timedelta(days=2))
    dear = make_event(db, title="Dear", price=90, starts_at=START + timedelta(days=1))
    by_price = await client.get("/api/v1/events", params={"sort": "price", "limit": 100})
    ids = [item["id"] for item in by_price.json()["items"]]
    assert ids.index(cheap) < ids.index(dear)
    by_date = await client.get("/api/v1/events", params={"limit": 100})
    ids = [item["id"] for item in by_date.json()["items"]]
    assert ids.index(dear) < ids.index(cheap)
    for path in ("/api/v1/events", "/api/v1/search/events"):
        bad_sort = await client.get(path, params={"sort": "bogus"})
        assert bad_sort.status_code == 422
    unknown = await client.get("/api/v1/events", params={"categroy": "music", "limit": 5})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"] == [
        {"loc": ["query", "categroy"], "type": "extra_forbidden", "msg": "unknown parameter"}
    ]
    recs = await client.get(
        "/api/v1/recommendations/events", params={"user_id": 1, "bogus": 1}, headers=SERVICE
    )
    assert recs.status_code == 422


async def test_filters_ignore_case_on_events_and_search(client, db):
    event_id = make_event(db, title="Case fest", city="Berlin", category="Music")
    for path in ("/api/v1/events", "/api/v1/search/events"):
        for params in ({"city": "berlin"}, {"city": "BERLIN"}, {"category": "music"}):
            response = await client.get(path, params={**params, "limit": 100})
            assert event_id in [item["id"] for item in response.json()["items"]], (path, params)
    search = await client.get("/api/v1/search/events", params={"category": "MUSIC"})
    assert search.json()["total"] >= 1


async def test_unsupported_methods_are_405_with_allow(client):
    for method, path, allow in (
        ("OPTIONS", "/api/v1/events", "GET, POST"),
        ("PUT", "/api/v1/events/1", "DELETE, GET, PATCH"),
        ("OPTIONS", "/health", "GET"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 405
        assert response.headers["allow"] == allow
        assert response.json()["error"]["code"] == "method_not_allowed"


async def test_the_document_says_which_reads_are_public(client):
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    optional = [{}, {"bearerAuth": []}]
    assert paths["/api/v1/events"]["get"]["security"] == optional
    assert paths["/api/v1/events/{event_id}"]["get"]["security"] == optional
    similar = paths["/api/v1/recommendations/events/{event_id}/similar"]["get"]
    assert similar["security"] == optional
    assert "security" not in paths["/api/v1/search/events"]["get"]
    assert paths["/api/v1/events"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/recommendations/events"]["get"]["security"] == [{"bearerAuth": []}]
    register = spec["components"]["schemas"]["RegisterIn"]["properties"]["email"]
    assert register["pattern"].startswith("^[^@")
    if_match = next(
        p
        for p in paths["/api/v1/events/{event_id}"]["patch"]["parameters"]
        if p["name"] == "if-match"
    )
    assert "pattern" in if_match["schema"]["anyOf"][0]


async def test_events_with_optional_fields_left_empty_are_served(client, db):
    event_id = make_event(db, title="Bare", city=None, lat=None, lng=None)
    response = await client.get(f"/api/v1/events/{event_id}")
    assert response.status_code == 200
    assert response.json()["city"] is None
