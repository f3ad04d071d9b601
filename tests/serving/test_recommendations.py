"""Recommendations read from ``serving.*``: personal sets, read-time filters, fallbacks, privacy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def world(db: psycopg.Connection) -> dict[str, int]:
    """Two users with precomputed sets, one without, and events in every state the filters see."""
    ids: dict[str, int] = {}
    ids["alice"] = make_user(db, city="Berlin")
    ids["bob"] = make_user(db, city="Paris", interests=["tech"])
    ids["carol"] = make_user(db, city="Berlin")
    ids["nocity"] = make_user(db)
    ids["good1"] = make_event(db, title="Jazz night", category="music")
    ids["good2"] = make_event(db, title="Tech meetup", category="tech")
    ids["past"] = make_event(db, starts_at=datetime.now(UTC) - timedelta(days=3))
    ids["cancelled"] = make_event(db, status="cancelled")
    ids["full"] = make_event(db, capacity=1)
    ids["registered"] = make_event(db)
    ids["dismissed"] = make_event(db)
    ids["berlin_pop"] = make_event(db, title="Berlin fest", city="Berlin")
    ids["global_pop"] = make_event(db, title="World expo", city="Lisbon")
    ids["tech_pop"] = make_event(db, title="Tech summit", category="tech", city="Oslo")
    db.execute(
        "INSERT INTO app.registrations (user_id, event_id, status) VALUES (%s, %s, 'confirmed')",
        (ids["carol"], ids["full"]),
    )
    db.execute(
        "INSERT INTO app.registrations (user_id, event_id, status) VALUES (%s, %s, 'confirmed')",
        (ids["alice"], ids["registered"]),
    )
    db.execute(
        """INSERT INTO app.interactions (id, user_id, event_id, type, occurred_at)
           VALUES (%s, %s, %s, 'dismiss', now())""",
        (uuid.uuid4(), ids["alice"], ids["dismissed"]),
    )
    ranked = ["past", "good1", "cancelled", "full", "registered", "dismissed", "good2"]
    for rank, name in enumerate(ranked, start=1):
        db.execute(
            """INSERT INTO serving.user_recommendations VALUES (%s, %s, %s, %s, %s, 'v7')""",
            (ids["alice"], rank, ids[name], 1.0 - rank / 10, f"because of {name}"),
        )
    popular = [
        ("city", "Berlin", 1, "berlin_pop"),
        ("category", "tech", 1, "tech_pop"),
        ("global", "", 1, "global_pop"),
        ("global", "", 2, "berlin_pop"),
        ("global", "", 3, "past"),
    ]
    for scope, value, rank, name in popular:
        db.execute(
            "INSERT INTO serving.popular_events VALUES (%s, %s, %s, %s, %s, 'pop-3')",
            (scope, value, rank, ids[name], 10.0 - rank),
        )
    for rank, name in enumerate(["good2", "past", "good1"], start=1):
        db.execute(
            "INSERT INTO serving.similar_events VALUES (%s, %s, %s, %s, 'v7')",
            (ids["global_pop"], rank, ids[name], 0.9 - rank / 10),
        )
    return ids


async def test_personal_set_is_filtered_at_read_time(client, world):
    response = await client.get(
        "/api/v1/recommendations/events",
        params={"user_id": world["alice"], "limit": 2},
        headers=bearer(world["alice"]),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == world["alice"]
    assert body["model_version"] == "v7"
    assert body["source"] == "personalized"
    items = body["recommendations"]
    assert [item["id"] for item in items] == [world["good1"], world["good2"]]
    assert items[0]["title"] == "Jazz night"
    assert items[0]["reason"] == "because of good1"
    assert items[0]["model_version"] == "v7"
    assert items[0]["score"] == pytest.approx(0.8)


async def test_short_personal_set_is_topped_up_with_popular_events(client, world):
    response = await client.get(
        "/api/v1/recommendations/events",
        params={"user_id": world["alice"], "limit": 5},
        headers=bearer(world["alice"]),
    )
    body = response.json()
    assert body["source"] == "mixed"
    ids = [item["id"] for item in body["recommendations"]]
    assert ids == [world["good1"], world["good2"], world["berlin_pop"], world["global_pop"]]
    assert body["recommendations"][2]["reason"] == "popular in Berlin"
    assert body["recommendations"][2]["model_version"] == "pop-3"


async def test_user_without_a_set_gets_city_then_interest_then_global(client, world):
    response = await client.get(
        "/api/v1/recommendations/events",
        params={"user_id": world["bob"], "limit": 10},
        headers=SERVICE,
    )
    body = response.json()
    assert body["source"] == "popular"
    assert body["model_version"] == "pop-3"
    ids = [item["id"] for item in body["recommendations"]]
    assert ids == [world["tech_pop"], world["global_pop"], world["berlin_pop"]]
    assert body["recommendations"][0]["reason"] == "popular in tech"
    assert body["recommendations"][1]["reason"] == "popular right now"


async def test_unknown_user_is_404(client, world):
    for algorithm in ("auto", "popular", "personalized"):
        response = await client.get(
            "/api/v1/recommendations/events",
            params={"user_id": 987654, "limit": 3, "algorithm": algorithm},
            headers=SERVICE,
        )
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "not_found",
            "message": "user not found",
            "details": None,
        }


async def test_category_filter_and_popular_algorithm(client, world):
    response = await client.get(
        "/api/v1/recommendations/events",
        params={"user_id": world["alice"], "category": "tech", "algorithm": "popular"},
        headers=bearer(world["alice"]),
    )
    assert [item["id"] for item in response.json()["recommendations"]] == [world["tech_pop"]]


async def test_recommendations_are_private(client, db, world):
    other = await client.get(
        "/api/v1/recommendations/events",
        params={"user_id": world["alice"]},
        headers=bearer(world["bob"]),
    )
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "forbidden"
    anonymous = await client.get(
        "/api/v1/recommendations/events", params={"user_id": world["alice"]}
    )
    assert anonymous.status_code == 401
    admin = await client.get(
        "/api/v1/recommendations/events",
        params={"user_id": world["alice"]},
        headers=bearer(make_user(db, role="admin")),
    )
    assert admin.status_code == 200


async def test_default_user_is_the_caller(client, world):
    response = await client.get("/api/v1/recommendations/events", headers=bearer(world["alice"]))
    assert response.json()["user_id"] == world["alice"]


async def test_similar_events_use_precomputed_neighbours(client, world):
    response = await client.get(
        f"/api/v1/recommendations/events/{world['global_pop']}/similar", params={"limit": 5}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["event_id"] == world["global_pop"]
    assert body["model_version"] == "v7"
    assert [e["id"] for e in body["similar_events"]] == [world["good2"], world["good1"]]


async def test_similar_events_fall_back_to_content_for_new_events(client, db, world):
    new = make_event(db, title="Fresh tech talk", category="tech", tags=["ai"], city="Oslo")
    response = await client.get(f"/api/v1/recommendations/events/{new}/similar")
    body = response.json()
    assert body["model_version"] == "content"
    ids = [e["id"] for e in body["similar_events"]]
    assert ids[0] == world["tech_pop"]  # same category and city
    assert world["good2"] in ids


async def test_similar_of_unknown_event_is_404(client, world):
    response = await client.get("/api/v1/recommendations/events/99999999/similar")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_table_swap_while_serving_causes_no_errors(client, db, world):
    """Batch scoring replaces the table by renames; prepared statements must survive it."""
    params = {"user_id": world["alice"], "limit": 2}
    headers = bearer(world["alice"])

    async def hammer() -> list[int]:
        statuses = []
        for _ in range(40):
            r = await client.get("/api/v1/recommendations/events", params=params, headers=headers)
            statuses.append(r.status_code)
        return statuses

    async def swap() -> None:
        for version in ("v8", "v9"):
            await asyncio.sleep(0.05)
            with db.transaction():
                db.execute("DROP TABLE IF EXISTS serving.user_recommendations_new")
                db.execute(
                    """CREATE TABLE serving.user_recommendations_new
                       (LIKE serving.user_recommendations INCLUDING ALL)"""
                )
                db.execute(
                    """INSERT INTO serving.user_recommendations_new
                       SELECT user_id, rank, event_id, score, reason, %s
                       FROM serving.user_recommendations""",
                    (version,),
                )
                db.execute(
                    "ALTER TABLE serving.user_recommendations RENAME TO user_recommendations_old"
                )
                db.execute(
                    "ALTER TABLE serving.user_recommendations_new RENAME TO user_recommendations"
                )
                db.execute("DROP TABLE serving.user_recommendations_old")

    results = await asyncio.gather(hammer(), hammer(), swap())
    assert set(results[0] + results[1]) == {200}
    final = await client.get("/api/v1/recommendations/events", params=params, headers=headers)
    assert final.json()["model_version"] == "v9"
