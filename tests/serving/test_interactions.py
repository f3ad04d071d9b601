"""Interactions and recommendation feedback: single or batch, idempotent by client id."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def ids(db: psycopg.Connection) -> dict[str, int]:
    return {"user": make_user(db), "other": make_user(db), "event": make_event(db)}


async def test_single_interaction_defaults_to_the_caller(client, db, ids):
    item = {"id": str(uuid.uuid4()), "event_id": ids["event"], "type": "view"}
    response = await client.post("/api/v1/interactions", json=item, headers=bearer(ids["user"]))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0}
    row = db.execute(
        "SELECT user_id, type, source FROM app.interactions WHERE id = %s", (item["id"],)
    ).fetchone()
    assert row == {"user_id": ids["user"], "type": "view", "source": "web"}


async def test_resent_batch_is_idempotent(client, db, ids):
    batch = [
        {
            "id": str(uuid.uuid4()),
            "user_id": ids["user"],
            "event_id": ids["event"],
            "type": kind,
            "occurred_at": "2026-01-05T10:00:00+01:00",
            "source": "recommendation",
            "context": {"rank": n},
            "model_version": "v7",
        }
        for n, kind in enumerate(["click", "favorite", "share"])
    ]
    first = await client.post("/api/v1/interactions", json=batch, headers=SERVICE)
    again = await client.post("/api/v1/interactions", json=batch, headers=SERVICE)
    assert first.json() == {"accepted": 3, "duplicates": 0}
    assert again.json() == {"accepted": 0, "duplicates": 3}
    stored = db.execute(
        "SELECT count(*) AS n FROM app.interactions WHERE id = ANY(%s)",
        ([uuid.UUID(i["id"]) for i in batch],),
    ).fetchone()
    assert stored["n"] == 3


async def test_interactions_are_validated(client, ids):
    headers = bearer(ids["user"])
    base = {"id": str(uuid.uuid4()), "event_id": ids["event"], "type": "view"}
    for bad in (
        {**base, "type": "stare"},
        {**base, "id": "not-a-uuid"},
        {**base, "source": "fax"},
        {**base, "occurred_at": "2026-01-05T10:00:00"},
        {**base, "context": {"blob": "x" * 5000}},
    ):
        response = await client.post("/api/v1/interactions", json=bad, headers=headers)
        assert response.status_code == 422, bad
    unknown = await client.post(
        "/api/v1/interactions", json={**base, "event_id": 99999999}, headers=headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"] == {"user_ids": [], "event_ids": [99999999]}
    assert (await client.post("/api/v1/interactions", json=[], headers=headers)).status_code == 422


async def test_users_post_only_their_own_interactions(client, ids):
    item = {
        "id": str(uuid.uuid4()),
        "user_id": ids["other"],
        "event_id": ids["event"],
        "type": "view",
    }
    response = await client.post("/api/v1/interactions", json=item, headers=bearer(ids["user"]))
    assert response.status_code == 403
    assert (await client.post("/api/v1/interactions", json=item)).status_code == 401


async def test_feedback_is_stored_with_the_model_version(client, db, ids):
    item = {
        "id": str(uuid.uuid4()),
        "event_id": ids["event"],
        "model_version": "v7",
        "action": "impression",
        "position": 3,
    }
    first = await client.post(
        "/api/v1/recommendations/feedback", json=item, headers=bearer(ids["user"])
    )
    again = await client.post(
        "/api/v1/recommendations/feedback", json=[item], headers=bearer(ids["user"])
    )
    assert first.status_code == again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 1}
    row = db.execute(
        "SELECT user_id, model_version, action, position FROM app.recommendation_feedback"
        " WHERE id = %s",
        (item["id"],),
    ).fetchone()
    assert row == {
        "user_id": ids["user"],
        "model_version": "v7",
        "action": "impression",
        "position": 3,
    }
    bad = await client.post(
        "/api/v1/recommendations/feedback",
        json={**item, "id": str(uuid.uuid4()), "action": "love"},
        headers=bearer(ids["user"]),
    )
    assert bad.status_code == 422


async def test_history_is_private_to_its_user(client, ids):
    url = f"/api/v1/users/{ids['user']}/interactions"
    own = await client.get(url, params={"type": "view"}, headers=bearer(ids["user"]))
    assert own.status_code == 200
    assert own.json()["total"] >= 1
    assert {item["type"] for item in own.json()["items"]} == {"view"}
    assert (await client.get(url, headers=bearer(ids["other"]))).status_code == 403
    assert (await client.get(url, headers=SERVICE)).json()["total"] >= 4


async def test_oversized_body_is_413(client, ids):
    huge = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    response = await client.post(
        "/api/v1/interactions",
        content=huge,
        headers={**bearer(ids["user"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_oversized_body_without_a_declared_length_is_413(client, ids):
    async def chunks():
        yield b"["
        for _ in range(6):
            yield b" " * (1024 * 1024)
        yield b"]"

    response = await client.post(
        "/api/v1/interactions",
        content=chunks(),
        headers={**bearer(ids["user"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
