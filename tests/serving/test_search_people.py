"""Search as people type: misspelt, partial and loose words, facets, a home point, autocomplete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.serving.conftest import bearer, make_event, make_user

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def catalogue(db: psycopg.Connection) -> dict[str, int]:
    ids: dict[str, int] = {}
    ids["organizer"] = make_user(db, role="organizer")
    db.execute(
        "UPDATE app.users SET name = 'Pythonistas Berlin' WHERE id = %s", (ids["organizer"],)
    )
    ids["home"] = make_user(db)
    db.execute(
        "UPDATE app.users SET home_lat = 52.52, home_lng = 13.405 WHERE id = %s", (ids["home"],)
    )
    rows = {
        "python": ("Python Meetup #42", "tech", "Berlin", 0, 3, "Talks about python code."),
        "ml": ("Machine Learning Night", "tech", "Berlin", 15, 10, "Models and data."),
        "science": ("Data Science Meetup", "tech", "Hamburg", 25, 40, "Notebooks and statistics."),
        "meetup": ("Founders Meetup", "business", "Hamburg", 0, 2, "Startups meet."),
        "dash": ("Opening Night - Design Exhibition", "art", "Munich", 60, 20, "Posters."),
        "jazz": ("Jazz Sessions", "music", "Munich", 12, 5, "Live quartet."),
        "folk": ("Album Release Show - Folk", "music", "Munich", 8, 6, "A concert of songs."),
        "street": ("Street Taste Festival", "food", "Berlin", 5, 1, "Food trucks."),
        "later": ("Board Games Afternoon", "community", "Leipzig", 0, 960, "Games."),
    }
    for name, (title, category, city, price, hours, description) in rows.items():
        lat, lng = {"Berlin": (52.52, 13.40), "Hamburg": (53.55, 9.99)}.get(city, (48.14, 11.58))
        ids[name] = make_event(
            db,
            title=title,
            category=category,
            city=city,
            price=price,
            description=description,
            lat=lat,
            lng=lng,
            starts_at=NOW + timedelta(hours=hours),
            organizer_id=ids["organizer"] if name == "python" else None,
        )
    return ids


async def _search(client, **params) -> dict:
    response = await client.get("/api/v1/search/events", params={"limit": 50, **params})
    assert response.status_code == 200, response.text
    return response.json()


def _ids(body: dict) -> list[int]:
    return [item["id"] for item in body["items"]]


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("pyhton", "python"),
        ("machne lerning", "ml"),
        ("Street Tsate", "street"),
        ("pyth", "python"),
        ("Opening Night - Design Exhibition", "dash"),
        ("data science meetup", "science"),
    ],
)
async def test_misspelt_partial_and_exact_titles_find_their_event_first(
    client, catalogue, query, wanted
) -> None:
    body = await _search(client, q=query)
    assert _ids(body)[0] == catalogue[wanted], body["items"][:3]


async def test_not_every_word_must_match_and_more_words_rank_higher(client, catalogue) -> None:
    # No event is a "python science meetup": those with two of the words come first.
    found = _ids(await _search(client, q="python science meetup"))
    assert set(found) == {catalogue["python"], catalogue["science"]}
    assert _ids(await _search(client, q="startup pitch")) == [catalogue["meetup"]]


async def test_a_title_word_beats_a_description_word(client, catalogue) -> None:
    found = _ids(await _search(client, q="jazz concert"))
    assert found[:2] == [catalogue["jazz"], catalogue["folk"]]


async def test_a_misspelling_is_reported_as_fuzzy(client, catalogue) -> None:
    assert (await _search(client, q="pyhton"))["mode"] == "fuzzy"
    assert (await _search(client, q="python"))["mode"] == "fulltext"
    assert (await _search(client))["mode"] == "browse"


async def test_exclusion_and_phrase_still_work(client, catalogue) -> None:
    found = _ids(await _search(client, q="meetup -founders"))
    assert catalogue["meetup"] not in found
    assert catalogue["python"] in found
    assert _ids(await _search(client, q='"science meetup"')) == [catalogue["science"]]


async def test_facets_respect_the_other_filters_but_not_their_own(client, catalogue) -> None:
    body = await _search(client, category="tech", city="Berlin")
    assert sorted(_ids(body)) == sorted([catalogue["python"], catalogue["ml"]])
    facets = body["facets"]
    assert {f["value"]: f["count"] for f in facets["city"]} == {"Berlin": 2, "Hamburg": 1}
    categories = {f["value"]: f["count"] for f in facets["category"]}
    assert categories == {"tech": 2, "food": 1}
    assert facets["price"] == [
        {"value": "free", "count": 1},
        {"value": "under_20", "count": 1},
        {"value": "20_to_50", "count": 0},
        {"value": "50_and_over", "count": 0},
    ]
    dates = {f["value"]: f["count"] for f in facets["date"]}
    assert dates["next_30_days"] == 2
    assert body["total"] == 2


async def test_start_buckets_and_price_bands_filter(client, catalogue) -> None:
    soon = _ids(await _search(client, when="next_30_days"))
    assert catalogue["later"] not in soon
    assert catalogue["python"] in soon
    free = _ids(await _search(client, free=True))
    assert sorted(free) == sorted([catalogue[n] for n in ("python", "meetup", "later")])


async def test_distance_from_the_point_or_the_users_home(client, catalogue) -> None:
    anonymous = await _search(client, q="python")
    assert anonymous["items"][0]["distance_km"] is None
    home = await client.get(
        "/api/v1/search/events",
        params={"q": "python", "sort": "distance"},
        headers=bearer(catalogue["home"]),
    )
    assert home.status_code == 200, home.text
    assert home.json()["items"][0]["distance_km"] == pytest.approx(0.34, abs=0.05)
    given = await _search(client, q="jazz", lat=48.14, lng=11.58)
    assert given["items"][0]["distance_km"] == pytest.approx(0.0, abs=0.01)
    assert (
        await client.get("/api/v1/search/events", params={"sort": "distance"})
    ).status_code == 422


async def test_autocomplete_matches_the_start_of_any_word(client, catalogue) -> None:
    response = await client.get("/api/v1/search/suggest", params={"q": "meet"})
    assert response.status_code == 200
    titles = [s["title"] for s in response.json()["events"]]
    assert set(titles) == {"Python Meetup #42", "Data Science Meetup", "Founders Meetup"}
    cities = (await client.get("/api/v1/search/suggest", params={"q": "ham"})).json()["cities"]
    assert cities == [{"city": "Hamburg", "events": 2}]
    organizers = (await client.get("/api/v1/search/suggest", params={"q": "pythonis"})).json()
    assert organizers["organizers"] == [
        {"id": catalogue["organizer"], "name": "Pythonistas Berlin", "events": 1}
    ]
    assert organizers["events"] == []


@pytest.mark.parametrize("q", ["", "   ", "%", "_", "x" * 101])
async def test_autocomplete_refuses_or_escapes_odd_input(client, catalogue, q) -> None:
    response = await client.get("/api/v1/search/suggest", params={"q": q})
    if q.strip() in ("%", "_"):
        assert response.status_code == 200
        assert response.json() == {"events": [], "cities": [], "organizers": []}
    else:
        assert response.status_code == 422


def _community_event(db: psycopg.Connection, title: str, hours: int) -> int:
    return make_event(
        db,
        title=title,
        category="community",
        city="Leipzig",
        price=5,
        starts_at=NOW + timedelta(hours=hours),
    )


async def test_the_strictest_match_that_finds_anything_decides_the_matches(client, db) -> None:
    every_word = {_community_event(db, f"Quokka Lantern Parade {n}", 30 + n) for n in range(3)}
    one_word = _community_event(db, "Quokka Picnic", 20)
    strict = await _search(client, q="quokka lantern")
    assert (strict["total"], set(_ids(strict))) == (3, every_word)
    assert {f["value"]: f["count"] for f in strict["facets"]["city"]} == {"Leipzig": 3}
    # Every page of a search has the same matches.
    second = await _search(client, q="quokka lantern", limit=2, offset=2)
    assert second["total"] == 3
    assert len(second["items"]) == 1
    # Nothing has every word: the events with most of them, best first.
    wider = await _search(client, q="quokka lantern choir")
    assert wider["total"] == 3
    loosest = await _search(client, q="quokka marmot choir")
    assert loosest["total"] == 4
    assert one_word in _ids(loosest)


async def test_the_title_that_is_the_query_comes_first_then_shorter_titles(client, db) -> None:
    longest = _community_event(db, "Wombat Choir Evening: Special Edition", 1)
    shorter = _community_event(db, "Wombat Choir Evening", 2)
    same = _community_event(db, "Wombat Choir", 100)
    assert _ids(await _search(client, q="wombat choir")) == [same, shorter, longest]


async def test_a_word_added_to_the_catalogue_is_found_by_the_next_search(client, db) -> None:
    # The first search learns "zebrafish" is not a catalogue word; then an event brings it.
    assert (await _search(client, q="zebrafish"))["total"] == 0
    added = _community_event(db, "Zebrafish Aquarium Night", 50)
    assert _ids(await _search(client, q="zebrafish", limit=5)) == [added]
