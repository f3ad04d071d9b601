"""Search: ranked full text, typo tolerance, filters, geo radius, sorts, facets and paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.serving.conftest import make_event

pytestmark = pytest.mark.anyio

SOON = datetime.now(UTC) + timedelta(days=2)


@pytest.fixture(scope="module")
def catalogue(db: psycopg.Connection) -> dict[str, int]:
    ids = {}
    ids["title"] = make_event(
        db,
        title="Tech conference Berlin",
        category="tech",
        tags=["ai"],
        city="Berlin",
        lat=52.52,
        lng=13.405,
        price=50,
        starts_at=SOON + timedelta(days=5),
    )
    ids["desc"] = make_event(
        db,
        title="Startup evening",
        description="Pitches with a tech conference feel",
        category="business",
        city="Potsdam",
        lat=52.39,
        lng=13.06,
        price=0,
        starts_at=SOON + timedelta(days=1),
    )
    ids["tagged"] = make_event(
        db,
        title="Data night",
        category="tech",
        tags=["tech", "data"],
        city="Hamburg",
        lat=53.55,
        lng=9.99,
        price=10,
        starts_at=SOON,
    )
    ids["music"] = make_event(
        db, title="Jazz festival", category="music", city="Munich", lat=48.14, lng=11.58
    )
    ids["past"] = make_event(
        db, title="Old tech conference", category="tech", starts_at=SOON - timedelta(days=30)
    )
    ids["cancelled"] = make_event(db, title="Cancelled tech conference", status="cancelled")
    db.execute(
        "INSERT INTO serving.popular_events VALUES ('global', '', 1, %s, 9, 'p'),"
        " ('global', '', 2, %s, 5, 'p')",
        (ids["music"], ids["desc"]),
    )
    return ids


async def search(client, **params):
    response = await client.get("/api/v1/search/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_full_text_ranks_title_above_tags_above_description(client, catalogue):
    body = await search(client, q="tech")
    assert body["mode"] == "fulltext"
    ids = [item["id"] for item in body["items"]]
    assert ids == [catalogue["title"], catalogue["tagged"], catalogue["desc"]]
    assert body["total"] == 3
    assert body["items"][0]["relevance"] > body["items"][2]["relevance"]


async def test_websearch_syntax(client, catalogue):
    body = await search(client, q='"tech conference" -startup')
    assert [item["id"] for item in body["items"]] == [catalogue["title"]]


async def test_typo_falls_back_to_trigram_similarity(client, catalogue):
    body = await search(client, q="conferense")
    assert body["mode"] == "fuzzy"
    # The title first, then the description that mentions a conference.
    assert [item["id"] for item in body["items"]] == [catalogue["title"], catalogue["desc"]]


async def test_no_match_at_all(client, catalogue):
    body = await search(client, q="zzzzqqqq")
    assert body == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
        "mode": "fulltext",
        "facets": {
            "category": [],
            "city": [],
            "date": [
                {"value": "today", "count": 0},
                {"value": "this_weekend", "count": 0},
                {"value": "next_30_days", "count": 0},
            ],
            "price": [
                {"value": "free", "count": 0},
                {"value": "under_20", "count": 0},
                {"value": "20_to_50", "count": 0},
                {"value": "50_and_over", "count": 0},
            ],
        },
    }


async def test_facets_ignore_the_category_filter_and_total_follows_it(client, catalogue):
    body = await search(client, q="tech", category="tech")
    assert body["total"] == 2
    assert {f["value"]: f["count"] for f in body["facets"]["category"]} == {
        "tech": 2,
        "business": 1,
    }


async def test_filters(client, catalogue):
    assert [i["id"] for i in (await search(client, q="tech", free=True))["items"]] == [
        catalogue["desc"]
    ]
    in_range = await search(client, q="tech", price_min=5, price_max=20)
    assert [i["id"] for i in in_range["items"]] == [catalogue["tagged"]]
    by_tag = await search(client, tags=["data"])
    assert [i["id"] for i in by_tag["items"]] == [catalogue["tagged"]]
    # A repeated tags parameter keeps every value (any of them).
    by_tags = await search(client, tags=["data", "ai"])
    assert {i["id"] for i in by_tags["items"]} == {catalogue["tagged"], catalogue["title"]}
    by_city = await search(client, city="hamburg")
    assert [i["id"] for i in by_city["items"]] == [catalogue["tagged"]]
    window = await search(
        client,
        date_from=(SOON + timedelta(hours=12)).isoformat(),
        date_to=(SOON + timedelta(days=2)).isoformat(),
    )
    assert [i["id"] for i in window["items"]] == [catalogue["desc"]]


async def test_past_and_cancelled_only_when_asked(client, catalogue):
    past = await search(client, q="old", include_past=True)
    assert [i["id"] for i in past["items"]] == [catalogue["past"]]
    cancelled = await search(client, q="cancelled", status="cancelled")
    assert [i["id"] for i in cancelled["items"]] == [catalogue["cancelled"]]


async def test_geo_radius_and_distance_sort(client, catalogue):
    body = await search(client, lat=52.52, lng=13.405, radius_km=50, sort="distance")
    assert [i["id"] for i in body["items"]] == [catalogue["title"], catalogue["desc"]]
    assert body["items"][0]["distance_km"] == pytest.approx(0.0, abs=0.01)
    assert body["items"][1]["distance_km"] == pytest.approx(26.5, abs=1.5)


async def test_sorts(client, catalogue):
    by_date = await search(client, q="tech", sort="date")
    assert [i["id"] for i in by_date["items"]] == [
        catalogue["tagged"],
        catalogue["desc"],
        catalogue["title"],
    ]
    by_popularity = await search(client, sort="popularity", limit=2)
    assert [i["id"] for i in by_popularity["items"]] == [catalogue["music"], catalogue["desc"]]
    by_price = await search(client, q="tech", sort="price")
    assert [i["price"] for i in by_price["items"]] == [0, 10, 50]


async def test_paging(client, catalogue):
    first = await search(client, limit=2)
    second = await search(client, limit=2, offset=2)
    assert first["total"] == second["total"] == 4
    seen = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(seen)) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "distance"},
        {"radius_km": 10},
        {"lat": 10},
        {"lat": 100, "lng": 0},
        {"limit": 1000},
        {"q": "x" * 201},
        {"sort": "nonsense"},
        {"date_from": "2030-01-01"},
        {"q": "tech\x00"},
    ],
)
async def test_bad_parameters_are_422(client, catalogue, params):
    response = await client.get("/api/v1/search/events", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "q",
    [
        "'; DROP TABLE app.events; --",
        "tech' OR '1'='1",
        "%",
        "\\",
        "!!!",
        ") OR (",
        "<script>alert(1)</script>",
    ],
)
async def test_injection_attempts_are_harmless(client, db, catalogue, q):
    before = db.execute("SELECT count(*) AS n FROM app.events").fetchone()["n"]
    response = await client.get("/api/v1/search/events", params={"q": q, "city": q})
    assert response.status_code == 200
    assert response.json()["total"] == 0
    assert db.execute("SELECT count(*) AS n FROM app.events").fetchone()["n"] == before


async def test_public_answers_are_micro_cached(client, db, catalogue):
    cache = client.app.state.response_cache
    cache.ttl = 60
    try:
        before = await search(client, q="jazz", limit=5)
        make_event(db, title="Jazz brunch", category="music")
        assert await search(client, limit=5, q="jazz") == before  # same key, other order
        cache.clear()
        after = await search(client, q="jazz", limit=5)
        assert after["total"] == before["total"] + 1
    finally:
        cache.ttl = 0
        cache.clear()
