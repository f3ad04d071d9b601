"""SQL injection and oversized values in every text and numeric parameter: a 4xx or a harmless
answer, never a 5xx, and the database is left unchanged."""

from __future__ import annotations

import psycopg
import pytest

from tests.serving.conftest import SERVICE, make_event, make_user

pytestmark = pytest.mark.anyio

PAYLOADS = [
    "'; DROP TABLE app.events; --",
    "1 OR 1=1",
    "1); DELETE FROM app.users; --",
    "$$; TRUNCATE app.events; $$",
    "\\x00",
    "%00",
    "9" * 400,
    "-1",
    "1e309",
    "NaN",
    "x" * 5000,
    "ü🎉" * 50,
]

# (path template, parameters sent as query string); {id} is a real event id.
READS = [
    ("/api/v1/events", ["category", "city", "status", "organizer_id", "limit", "offset"]),
    (
        "/api/v1/search/events",
        [
            "q",
            "category",
            "tags",
            "city",
            "date_from",
            "date_to",
            "price_min",
            "price_max",
            "lat",
            "lng",
            "radius_km",
            "sort",
            "status",
            "limit",
            "offset",
        ],
    ),
    ("/api/v1/recommendations/events", ["user_id", "limit", "algorithm", "category"]),
    ("/api/v1/recommendations/events/{id}/similar", ["limit"]),
    ("/api/v1/events/{id}/registrations", ["status", "limit"]),
]


def fingerprint(db: psycopg.Connection) -> tuple:
    return db.execute(
        """SELECT (SELECT count(*) FROM app.users), (SELECT count(*) FROM app.events),
                  (SELECT count(*) FROM app.registrations),
                  (SELECT coalesce(sum(version), 0) FROM app.events)"""
    ).fetchone()


@pytest.fixture(scope="module")
def event_id(db: psycopg.Connection) -> int:
    make_user(db)
    return make_event(db, title="Target")


@pytest.mark.parametrize(("path", "names"), READS, ids=[p for p, _ in READS])
async def test_query_parameters(client, db, event_id, path, names):
    before = fingerprint(db)
    url = path.format(id=event_id)
    for name in names:
        for payload in PAYLOADS:
            response = await client.get(url, params={name: payload}, headers=SERVICE)
            assert response.status_code < 500, (name, payload, response.text)
            if response.status_code >= 400:
                assert response.json()["error"]["code"]
    assert fingerprint(db) == before


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_path_parameters(client, db, payload):
    before = fingerprint(db)
    for template in ("/api/v1/events/{}", "/api/v1/recommendations/events/{}/similar"):
        response = await client.get(template.format(payload), headers=SERVICE)
        assert response.status_code in (404, 422), (template, payload)
    assert fingerprint(db) == before


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_body_fields(client, db, event_id, payload):
    before = fingerprint(db)
    patch = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"title": payload, "category": payload, "currency": payload},
        headers=SERVICE,
    )
    assert patch.status_code == 422
    login = await client.post("/api/v1/auth/login", json={"email": payload, "password": payload})
    assert login.status_code in (401, 422, 429)
    assert fingerprint(db) == before
