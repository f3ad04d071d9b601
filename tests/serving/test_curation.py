"""Curation where clients see it: one listing per real event, junk demoted and never
recommended, and the admins' review queue whose decisions take effect at once."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio


def _curate(
    db: psycopg.Connection,
    event_id: int,
    canonical_id: int,
    *,
    low_quality: bool = False,
    rejected: bool = False,
    source_file: str | None = None,
) -> None:
    db.execute(
        """INSERT INTO app.event_curation (event_id, canonical_id, quality_score, flags,
                                           low_quality, rejected, source_file)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (
            event_id,
            canonical_id,
            0.3 if low_quality else 1.0,
            ["all_caps"] if low_quality else [],
            low_quality,
            rejected,
            source_file,
        ),
    )


@pytest.fixture(scope="module")
def world(db: psycopg.Connection) -> dict[str, int]:
    """A canonical event and its duplicate from another feed, a low-quality listing, a rejected
    one, two plain ones and one never curated (created after the batch)."""
    ids: dict[str, int] = {}
    ids["admin"] = make_user(db, role="admin")
    ids["alice"] = make_user(db, city="Berlin")
    for name, title in [
        ("canonical", "Rust meetup curated"),
        ("duplicate", "Rust meetup curated [Tickets]"),
        ("junk", "RUST MEETUP CURATED!!!"),
        ("rejected", "Rust meetup curated spam"),
        ("plain", "Rust meetup curated workshop"),
        ("other", "Rust meetup curated night"),
        ("fresh", "Rust meetup curated fresh"),
    ]:
        ids[name] = make_event(db, title=title, category="tech")
    _curate(db, ids["canonical"], ids["canonical"], source_file="landing/events/a.jsonl")
    _curate(db, ids["duplicate"], ids["canonical"], source_file="landing/events/b.csv")
    _curate(db, ids["junk"], ids["junk"], low_quality=True)
    _curate(db, ids["rejected"], ids["rejected"], low_quality=True, rejected=True)
    _curate(db, ids["plain"], ids["plain"])
    _curate(db, ids["other"], ids["other"])
    for rank, name in enumerate(["duplicate", "junk", "rejected", "canonical", "plain"], 1):
        db.execute(
            "INSERT INTO serving.user_recommendations VALUES (%s, %s, %s, %s, 'why', 'v1')",
            (ids["alice"], rank, ids[name], 1.0 - rank / 10),
        )
    for rank, name in enumerate(["duplicate", "junk", "plain"], 1):
        db.execute(
            "INSERT INTO serving.similar_events VALUES (%s, %s, %s, %s, 'v1')",
            (ids["canonical"], rank, ids[name], 0.9 - rank / 10),
        )
    db.execute(
        """INSERT INTO app.curation_queue (kind, event_id, other_event_id, score, evidence)
           VALUES ('low_quality', %s, NULL, 0.3, 'all_caps: 100%% capitals'),
                  ('uncertain_duplicate', %s, %s, 0.7, 'match probability 0.7: kept apart')""",
        (ids["junk"], ids["plain"], ids["other"]),
    )
    return ids


def _ids(items: list[dict]) -> list[int]:
    return [item["id"] for item in items]


async def test_lists_show_one_listing_per_real_event(client, world) -> None:
    response = await client.get("/api/v1/events", params={"limit": 100})
    assert response.status_code == 200
    listed = set(_ids(response.json()["items"]))
    assert listed == {world[n] for n in ("canonical", "junk", "plain", "other", "fresh")}
    assert response.json()["total"] == 5


async def test_an_event_names_the_other_feeds_listings(client, world) -> None:
    body = (await client.get(f"/api/v1/events/{world['canonical']}")).json()
    assert body["canonical_event_id"] == world["canonical"]
    assert body["sources"] == [
        {"event_id": world["duplicate"], "source_file": "landing/events/b.csv", "external_id": None}
    ]
    duplicate = (await client.get(f"/api/v1/events/{world['duplicate']}")).json()
    assert duplicate["canonical_event_id"] == world["canonical"]
    assert [s["event_id"] for s in duplicate["sources"]] == [world["canonical"]]
    fresh = (await client.get(f"/api/v1/events/{world['fresh']}")).json()
    assert (fresh["canonical_event_id"], fresh["sources"]) == (world["fresh"], [])


async def test_search_leaves_out_duplicates_and_puts_low_quality_last(client, world) -> None:
    for params in ({"q": "rust meetup curated"}, {"category": "tech"}):
        body = (await client.get("/api/v1/search/events", params={**params, "limit": 50})).json()
        found = _ids(body["items"])
        assert world["duplicate"] not in found
        assert world["rejected"] not in found
        assert found[-1] == world["junk"], params
        assert body["total"] == 5


async def test_recommendations_never_show_duplicates_rejected_or_low_quality(client, world) -> None:
    response = await client.get(
        "/api/v1/recommendations/events", params={"user_id": world["alice"]}, headers=SERVICE
    )
    assert response.status_code == 200
    shown = _ids(response.json()["recommendations"])
    assert shown[:2] == [world["canonical"], world["plain"]]
    assert not {world["duplicate"], world["junk"], world["rejected"]} & set(shown)
    similar = await client.get(f"/api/v1/recommendations/events/{world['canonical']}/similar")
    assert _ids(similar.json()["similar_events"]) == [world["plain"]]


async def test_the_review_queue_is_for_admins_only(client, world) -> None:
    assert (await client.get("/api/v1/admin/curation")).status_code == 401
    attendee = await client.get("/api/v1/admin/curation", headers=bearer(world["alice"]))
    assert attendee.status_code == 403
    assert (await client.get("/api/v1/admin/curation", headers=SERVICE)).status_code == 403
    decision = {"action": "reject", "event_id": world["plain"]}
    refused = await client.post(
        "/api/v1/admin/curation/decisions", json=decision, headers=bearer(world["alice"])
    )
    assert refused.status_code == 403


async def test_the_queue_lists_items_with_their_evidence(client, world) -> None:
    response = await client.get("/api/v1/admin/curation", headers=bearer(world["admin"]))
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    pair, low = body["items"]
    assert (pair["kind"], pair["event_id"], pair["other_event_id"]) == (
        "uncertain_duplicate",
        world["plain"],
        world["other"],
    )
    assert pair["other_title"] == "Rust meetup curated night"
    assert (low["kind"], low["title"], low["decision"]) == (
        "low_quality",
        "RUST MEETUP CURATED!!!",
        None,
    )
    only = await client.get(
        "/api/v1/admin/curation", params={"kind": "low_quality"}, headers=bearer(world["admin"])
    )
    assert [i["event_id"] for i in only.json()["items"]] == [world["junk"]]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"action": "merge", "event_id": 1}, 422),
        ({"action": "accept", "event_id": 1, "other_event_id": 2}, 422),
        ({"action": "delete", "event_id": 1}, 422),
        ({"action": "accept", "event_id": 1, "extra": True}, 422),
        ({"action": "accept", "event_id": 0}, 422),
        ({"action": "accept", "event_id": 1, "note": "\ud800"}, 422),
        ({"action": "accept", "event_id": 987654321}, 404),
    ],
)
async def test_bad_decisions_are_refused_with_a_reason(client, world, db, body, status) -> None:
    before = db.execute("SELECT count(*) AS n FROM app.curation_decisions").fetchone()["n"]
    # ASCII JSON, so that a lone surrogate travels as the escape a client would send.
    response = await client.post(
        "/api/v1/admin/curation/decisions",
        content=json.dumps(body),
        headers={**bearer(world["admin"]), "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    after = db.execute("SELECT count(*) AS n FROM app.curation_decisions").fetchone()["n"]
    assert after == before


async def _decide(client, world, **body) -> dict:
    response = await client.post(
        "/api/v1/admin/curation/decisions", json=body, headers=bearer(world["admin"])
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_decisions_take_effect_at_once(client, world, db) -> None:
    async def listed() -> set[int]:
        response = await client.get("/api/v1/events", params={"limit": 100})
        return set(_ids(response.json()["items"]))

    decision = await _decide(client, world, action="accept", event_id=world["junk"], note="fine")
    assert (decision["decided_by"], decision["note"]) == (world["admin"], "fine")
    row = db.execute(
        "SELECT low_quality FROM app.event_curation WHERE event_id = %s", (world["junk"],)
    ).fetchone()
    assert row["low_quality"] is False
    queue = await client.get("/api/v1/admin/curation", headers=bearer(world["admin"]))
    assert world["junk"] not in [i["event_id"] for i in queue.json()["items"]]
    decided = await client.get(
        "/api/v1/admin/curation", params={"state": "decided"}, headers=bearer(world["admin"])
    )
    assert [(i["event_id"], i["decision"]) for i in decided.json()["items"]] == [
        (world["junk"], "accept")
    ]

    await _decide(client, world, action="reject", event_id=world["fresh"])
    assert world["fresh"] not in await listed()

    await _decide(
        client, world, action="merge", event_id=world["other"], other_event_id=world["plain"]
    )
    assert world["plain"] in await listed()
    assert world["other"] not in await listed()
    plain = (await client.get(f"/api/v1/events/{world['plain']}")).json()
    assert [s["event_id"] for s in plain["sources"]] == [world["other"]]

    await _decide(client, world, action="split", event_id=world["duplicate"])
    assert world["duplicate"] in await listed()
    canonical = (await client.get(f"/api/v1/events/{world['canonical']}")).json()
    assert canonical["sources"] == []


async def test_splitting_a_clusters_canonical_listing_promotes_the_next(client, world, db) -> None:
    first = make_event(db, title="Split me")
    second = make_event(db, title="Split me too")
    third = make_event(db, title="Split me three")
    for event in (first, second, third):
        _curate(db, event, first)
    await _decide(client, world, action="split", event_id=first)
    rows = db.execute(
        "SELECT event_id, canonical_id FROM app.event_curation WHERE event_id = ANY(%s)",
        ([first, second, third],),
    ).fetchall()
    assert {r["event_id"]: r["canonical_id"] for r in rows} == {
        first: first,
        second: second,
        third: second,
    }
