"""Events CRUD: validation, ownership, status transitions, soft cancel, optimistic concurrency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def new_event(**overrides):
    body = {
        "title": "Rust meetup",
        "description": "Talks and pizza",
        "category": "tech",
        "tags": ["rust", "systems"],
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(hours=2)).isoformat(),
        "venue_name": "Hall 1",
        "city": "Berlin",
        "lat": 52.52,
        "lng": 13.40,
        "capacity": 80,
        "price": 12.5,
        "currency": "EUR",
        "status": "published",
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def people(db: psycopg.Connection) -> dict[str, int]:
    return {
        "org": make_user(db, role="organizer"),
        "rival": make_user(db, role="organizer"),
        "fan": make_user(db),
        "admin": make_user(db, role="admin"),
    }


async def test_create_needs_a_token_and_an_organiser(client, people):
    anonymous = await client.post("/api/v1/events", json=new_event())
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    attendee = await client.post("/api/v1/events", json=new_event(), headers=bearer(people["fan"]))
    assert attendee.status_code == 403


async def test_organiser_creates_and_anyone_reads(client, people):
    response = await client.post("/api/v1/events", json=new_event(), headers=bearer(people["org"]))
    assert response.status_code == 201
    event = response.json()
    assert event["organizer_id"] == people["org"]
    assert event["price"] == 12.5
    assert event["version"] == 1
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/api/v1/events/{event['id']}"
    read = await client.get(f"/api/v1/events/{event['id']}")
    assert read.status_code == 200
    assert read.json()["title"] == "Rust meetup"
    assert read.json()["tags"] == ["rust", "systems"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": (START - timedelta(hours=1)).isoformat()}, None),
        ({"capacity": -1}, "capacity"),
        ({"lat": 91}, "lat"),
        ({"currency": "euro"}, "currency"),
        ({"price": -3}, "price"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "   "}, "title"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),
        ({"title": "nul\x00byte"}, "title"),
    ],
)
async def test_invalid_events_are_422(client, people, overrides, field):
    response = await client.post(
        "/api/v1/events", json=new_event(**overrides), headers=bearer(people["org"])
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    if field:
        assert error["details"][0]["loc"][-1] == field


async def test_drafts_are_private_to_their_organiser(client, db, people):
    draft = make_event(db, status="draft", organizer_id=people["org"])
    assert (await client.get(f"/api/v1/events/{draft}")).status_code == 404
    other = await client.get(f"/api/v1/events/{draft}", headers=bearer(people["rival"]))
    assert other.status_code == 404
    own = await client.get(f"/api/v1/events/{draft}", headers=bearer(people["org"]))
    assert own.status_code == 200


async def test_list_pages_published_upcoming_events_with_total(client, db, people):
    db.execute("UPDATE app.events SET status = 'completed' WHERE status = 'published'")
    base = datetime.now(UTC) + timedelta(days=1)
    ids = [
        make_event(db, title=f"L{i}", category="list", starts_at=base + timedelta(hours=i))
        for i in range(5)
    ]
    make_event(db, category="list", starts_at=base - timedelta(days=5))  # past
    make_event(db, category="list", status="draft")
    page = await client.get("/api/v1/events", params={"category": "list", "limit": 2, "offset": 2})
    body = page.json()
    assert body["total"] == 5
    assert (body["limit"], body["offset"]) == (2, 2)
    assert [item["id"] for item in body["items"]] == ids[2:4]
    past = await client.get("/api/v1/events", params={"category": "list", "include_past": True})
    assert past.json()["total"] == 6


async def test_listing_drafts_needs_ownership(client, people):
    refused = await client.get("/api/v1/events", params={"status": "draft"})
    assert refused.status_code == 403
    own = await client.get(
        "/api/v1/events",
        params={"status": "draft", "organizer_id": people["org"], "include_past": True},
        headers=bearer(people["org"]),
    )
    assert own.status_code == 200
    assert own.json()["total"] >= 1


async def test_patch_with_if_match_and_stale_version(client, db, people):
    event_id = make_event(db, organizer_id=people["org"], capacity=10)
    headers = bearer(people["org"])
    first = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"title": "Renamed", "capacity": 20},
        headers={**headers, "If-Match": '"1"'},
    )
    assert first.status_code == 200
    assert first.json()["title"] == "Renamed"
    assert first.json()["version"] == 2
    assert first.headers["etag"] == '"2"'
    stale = await client.patch(
        f"/api/v1/events/{event_id}", json={"title": "Lost"}, headers={**headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["details"] == {"current_version": 2}
    body_version = await client.patch(
        f"/api/v1/events/{event_id}", json={"title": "Also lost", "version": 1}, headers=headers
    )
    assert body_version.status_code == 412
    current = db.execute("SELECT title, version FROM app.events WHERE id = %s", (event_id,))
    assert current.fetchone() == {"title": "Renamed", "version": 2}


async def test_patch_checks_the_merged_event(client, db, people):
    event_id = make_event(db, organizer_id=people["org"])
    response = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"ends_at": (datetime.now(UTC) - timedelta(days=400)).isoformat()},
        headers=bearer(people["org"]),
    )
    assert response.status_code == 422


async def test_only_owner_or_admin_may_change(client, db, people):
    event_id = make_event(db, organizer_id=people["org"])
    rival = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"title": "Mine now"},
        headers=bearer(people["rival"]),
    )
    assert rival.status_code == 403
    admin = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"title": "Fixed"},
        headers=bearer(people["admin"]),
    )
    assert admin.status_code == 200
    service = await client.patch(
        f"/api/v1/events/{event_id}", json={"title": "Synced"}, headers=SERVICE
    )
    assert service.status_code == 200


async def test_status_transitions(client, db, people):
    event_id = make_event(db, organizer_id=people["org"], status="draft")
    headers = bearer(people["org"])
    url = f"/api/v1/events/{event_id}"
    assert (await client.patch(url, json={"status": "published"}, headers=headers)).json()[
        "status"
    ] == "published"
    back = await client.patch(url, json={"status": "draft"}, headers=headers)
    assert back.status_code == 409
    assert back.json()["error"]["code"] == "invalid_transition"


async def test_delete_is_a_soft_cancel_and_idempotent(client, db, people):
    event_id = make_event(db, organizer_id=people["org"])
    headers = bearer(people["org"])
    first = await client.delete(f"/api/v1/events/{event_id}", headers=headers)
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    again = await client.delete(f"/api/v1/events/{event_id}", headers=headers)
    assert again.status_code == 200
    assert again.json()["version"] == first.json()["version"]
    still_there = await client.get(f"/api/v1/events/{event_id}")
    assert still_there.json()["status"] == "cancelled"


async def test_unknown_and_out_of_range_ids(client):
    assert (await client.get("/api/v1/events/424242")).status_code == 404
    assert (await client.get("/api/v1/events/0")).status_code == 422
    assert (await client.get(f"/api/v1/events/{2**70}")).status_code == 422
    assert (await client.get("/api/v1/events/1;DROP TABLE app.events")).status_code == 422
