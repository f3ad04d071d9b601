"""The event API marketplace clients expect, over HTTP on the real database: places left, local
times, organiser and venue summaries, online events, series, organisers and following them,
cursor paging and conditional reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.serving.conftest import SERVICE, bearer, make_event, make_user

pytestmark = pytest.mark.anyio

SUMMER_START = datetime(2027, 7, 1, 17, 0, tzinfo=UTC)
WINTER_START = datetime(2027, 1, 15, 17, 0, tzinfo=UTC)


def _new_event(**fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "Rooftop Jazz",
        "category": "music",
        "starts_at": SUMMER_START.isoformat(),
        "ends_at": (SUMMER_START + timedelta(hours=2)).isoformat(),
        "capacity": 50,
        "status": "published",
    }
    body.update(fields)
    return body


@pytest.fixture(scope="module")
def organizer(db: psycopg.Connection) -> int:
    user_id = make_user(db, role="organizer")
    db.execute("UPDATE app.users SET name = 'Blue Note Club' WHERE id = %s", (user_id,))
    return user_id


async def test_local_times_follow_the_event_zone_and_its_daylight_saving(
    client: httpx.AsyncClient, organizer: int
) -> None:
    berlin = await client.post(
        "/api/v1/events",
        json=_new_event(timezone="Europe/Berlin", venue_name="Club", city="Berlin"),
        headers=bearer(organizer),
    )
    assert berlin.status_code == 201, berlin.text
    assert berlin.json()["starts_at_local"] == "2027-07-01T19:00:00+02:00"
    assert berlin.json()["ends_at_local"] == "2027-07-01T21:00:00+02:00"
    winter = await client.post(
        "/api/v1/events",
        json=_new_event(
            timezone="America/New_York",
            starts_at=WINTER_START.isoformat(),
            ends_at=(WINTER_START + timedelta(hours=1)).isoformat(),
        ),
        headers=bearer(organizer),
    )
    assert winter.json()["timezone"] == "America/New_York"
    assert winter.json()["starts_at_local"] == "2027-01-15T12:00:00-05:00"
    default = await client.post("/api/v1/events", json=_new_event(), headers=bearer(organizer))
    assert default.json()["starts_at_local"] == "2027-07-01T17:00:00+00:00"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Etc/GMT+5", "+02:00", "", "europe/berlin"])
async def test_a_zone_that_is_not_a_place_is_refused(
    client: httpx.AsyncClient, organizer: int, zone: str
) -> None:
    response = await client.post(
        "/api/v1/events", json=_new_event(timezone=zone), headers=bearer(organizer)
    )
    assert response.status_code == 422
    assert "time zone" in response.text or "timezone" in response.text


async def test_online_events_have_a_url_and_no_venue(
    client: httpx.AsyncClient, organizer: int
) -> None:
    no_url = await client.post(
        "/api/v1/events", json=_new_event(attendance_mode="online"), headers=bearer(organizer)
    )
    assert no_url.status_code == 422
    assert "online_url" in no_url.json()["error"]["message"]
    stray_url = await client.post(
        "/api/v1/events",
        json=_new_event(online_url="https://meet.example.com/x"),
        headers=bearer(organizer),
    )
    assert stray_url.status_code == 422
    online = await client.post(
        "/api/v1/events",
        json=_new_event(
            attendance_mode="online",
            online_url="https://meet.example.com/jazz",
            image_url="https://img.example.com/jazz.jpg",
        ),
        headers=bearer(organizer),
    )
    assert online.status_code == 201, online.text
    body = online.json()
    assert (body["attendance_mode"], body["venue"]) == ("online", None)
    assert body["online_url"] == "https://meet.example.com/jazz"
    assert body["image_url"] == "https://img.example.com/jazz.jpg"
    hybrid = await client.post(
        "/api/v1/events",
        json=_new_event(
            attendance_mode="hybrid",
            online_url="https://meet.example.com/h",
            venue_name="Hall 1",
            city="Lyon",
            lat=45.76,
            lng=4.83,
        ),
        headers=bearer(organizer),
    )
    assert hybrid.json()["venue"] == {
        "id": None,
        "name": "Hall 1",
        "city": "Lyon",
        "lat": 45.76,
        "lng": 4.83,
    }
    bad_image = await client.post(
        "/api/v1/events",
        json=_new_event(image_url="javascript:alert(1)"),
        headers=bearer(organizer),
    )
    assert bad_image.status_code == 422


async def test_seats_left_and_sold_out_follow_the_registrations(
    client: httpx.AsyncClient, db: psycopg.Connection, organizer: int
) -> None:
    event_id = make_event(db, capacity=2, organizer_id=organizer)
    first, second = make_user(db), make_user(db)
    before = (await client.get(f"/api/v1/events/{event_id}")).json()
    assert (before["seats_left"], before["sold_out"]) == (2, False)
    assert before["organizer"] == {"id": organizer, "name": "Blue Note Club"}
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(first))
    assert (await client.get(f"/api/v1/events/{event_id}")).json()["seats_left"] == 1
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(second))
    full = (await client.get(f"/api/v1/events/{event_id}")).json()
    assert (full["seats_left"], full["sold_out"]) == (0, True)


async def test_a_read_tag_answers_304_until_the_event_reads_differently(
    client: httpx.AsyncClient, db: psycopg.Connection, organizer: int
) -> None:
    event_id = make_event(db, capacity=5, organizer_id=organizer)
    first = await client.get(f"/api/v1/events/{event_id}")
    tag = first.headers["etag"]
    assert tag.startswith('"1-')
    assert first.headers["cache-control"].startswith("public")
    same = await client.get(f"/api/v1/events/{event_id}", headers={"If-None-Match": tag})
    assert (same.status_code, same.content) == (304, b"")
    # A place taken changes what the event says (seats_left) though not its version.
    await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(make_user(db)))
    changed = await client.get(f"/api/v1/events/{event_id}", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert changed.headers["etag"].startswith('"1-')
    # The read's tag guards an update like the write's.
    patched = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"title": "Renamed"},
        headers={**bearer(organizer), "If-Match": changed.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    stale = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"title": "Lost"},
        headers={**bearer(organizer), "If-Match": changed.headers["etag"]},
    )
    assert stale.status_code == 412


async def test_drafts_are_never_cached_by_shared_caches(
    client: httpx.AsyncClient, db: psycopg.Connection, organizer: int
) -> None:
    draft = make_event(db, status="draft", organizer_id=organizer)
    response = await client.get(f"/api/v1/events/{draft}", headers=bearer(organizer))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"


async def test_a_list_tag_answers_304(client: httpx.AsyncClient, db: psycopg.Connection) -> None:
    make_event(db, city="Tallinn")
    first = await client.get("/api/v1/events", params={"city": "Tallinn"})
    again = await client.get(
        "/api/v1/events",
        params={"city": "Tallinn"},
        headers={"If-None-Match": f'W/{first.headers["etag"]}, "other"'},
    )
    assert again.status_code == 304
    assert first.headers["cache-control"] == "public, max-age=5"


async def test_cursor_pages_are_stable_while_events_are_added(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    base = datetime.now(UTC) + timedelta(days=30)
    ids = [make_event(db, city="Porto", starts_at=base + timedelta(hours=i)) for i in range(7)]
    first = (await client.get("/api/v1/events", params={"city": "Porto", "limit": 3})).json()
    assert [item["id"] for item in first["items"]] == ids[:3]
    # An event sorting before the position of the cursor: an offset would show ids[2] again.
    make_event(db, city="Porto", starts_at=base - timedelta(hours=1))
    seen = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = (
            await client.get(
                "/api/v1/events", params={"city": "Porto", "limit": 3, "cursor": cursor}
            )
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids
    by_offset = (
        await client.get("/api/v1/events", params={"city": "Porto", "limit": 3, "offset": 3})
    ).json()
    assert by_offset["items"][0]["id"] == ids[2]


async def test_cursor_paging_by_price_puts_unpriced_events_last(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    base = datetime.now(UTC) + timedelta(days=40)
    prices = [30, None, 10, 10, None, 20]
    for i, price in enumerate(prices):
        make_event(db, city="Gdansk", price=price, starts_at=base + timedelta(hours=i))
    full = (
        await client.get("/api/v1/events", params={"city": "Gdansk", "sort": "price", "limit": 20})
    ).json()["items"]
    assert [item["price"] for item in full] == [10, 10, 20, 30, None, None]
    walked, cursor = [], None
    while True:
        params = {"city": "Gdansk", "sort": "price", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/events", params=params)).json()
        walked += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [item["id"] for item in full]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ({"cursor": "WyJwcmljZSIsbnVsbCwxXQ"}, "invalid_cursor"),
        ({"cursor": "!!"}, "validation_error"),
    ],
)
async def test_a_cursor_that_was_not_handed_out_is_a_422(
    client: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    response = await client.get("/api/v1/events", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


async def test_cursor_and_offset_do_not_mix(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    for _ in range(3):
        make_event(db, city="Riga")
    page = (await client.get("/api/v1/events", params={"city": "Riga", "limit": 1})).json()
    response = await client.get(
        "/api/v1/events", params={"cursor": page["next_cursor"], "offset": 2}
    )
    assert response.status_code == 422


async def test_a_series_lists_its_events_soonest_first(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    now = datetime.now(UTC)
    past = make_event(db, series_id=9001, starts_at=now - timedelta(days=7))
    later = make_event(db, series_id=9001, starts_at=now + timedelta(days=14))
    sooner = make_event(db, series_id=9001, starts_at=now + timedelta(days=7))
    make_event(db, series_id=9002)
    upcoming = (await client.get("/api/v1/series/9001/events")).json()
    assert [item["id"] for item in upcoming["items"]] == [sooner, later]
    assert upcoming["items"][0]["series_id"] == 9001
    everything = (await client.get("/api/v1/series/9001/events?include_past=true")).json()
    assert [item["id"] for item in everything["items"]] == [past, sooner, later]
    missing = await client.get("/api/v1/series/424242/events")
    assert missing.status_code == 404


async def test_following_an_organiser(
    client: httpx.AsyncClient, db: psycopg.Connection, organizer: int
) -> None:
    fan = make_user(db)
    event_id = make_event(
        db, organizer_id=organizer, starts_at=datetime.now(UTC) + timedelta(days=1)
    )
    anonymous = (await client.get(f"/api/v1/organizers/{organizer}")).json()
    assert anonymous["name"] == "Blue Note Club"
    assert anonymous["following"] is None
    assert event_id in [item["id"] for item in anonymous["upcoming_events"]]
    followers = anonymous["followers"]

    assert (await client.put(f"/api/v1/organizers/{organizer}/follow")).status_code == 401
    followed = await client.put(f"/api/v1/organizers/{organizer}/follow", headers=bearer(fan))
    assert followed.json() == {
        "organizer_id": organizer,
        "following": True,
        "followers": followers + 1,
    }
    again = await client.put(f"/api/v1/organizers/{organizer}/follow", headers=bearer(fan))
    assert again.json()["followers"] == followers + 1
    mine = (await client.get(f"/api/v1/organizers/{organizer}", headers=bearer(fan))).json()
    assert mine["following"] is True
    listed = (await client.get("/api/v1/organizers/followed", headers=bearer(fan))).json()
    assert [item["id"] for item in listed["items"]] == [organizer]

    unfollowed = await client.delete(f"/api/v1/organizers/{organizer}/follow", headers=bearer(fan))
    assert unfollowed.json() == {
        "organizer_id": organizer,
        "following": False,
        "followers": followers,
    }


async def test_who_can_be_followed(
    client: httpx.AsyncClient, db: psycopg.Connection, organizer: int
) -> None:
    attendee = make_user(db)
    assert (await client.get(f"/api/v1/organizers/{attendee}")).status_code == 404
    not_one = await client.put(f"/api/v1/organizers/{attendee}/follow", headers=bearer(organizer))
    assert not_one.status_code == 404
    themselves = await client.put(
        f"/api/v1/organizers/{organizer}/follow", headers=bearer(organizer)
    )
    assert themselves.status_code == 422
    service = await client.put(f"/api/v1/organizers/{organizer}/follow", headers=SERVICE)
    assert service.status_code == 422


async def test_followed_organisers_events_take_every_third_recommendation(
    client: httpx.AsyncClient, db: psycopg.Connection
) -> None:
    club = make_user(db, role="organizer")
    db.execute("UPDATE app.users SET name = 'Night Owls' WHERE id = %s", (club,))
    fan = make_user(db)
    soon = datetime.now(UTC) + timedelta(days=3)
    ranked = [make_event(db, starts_at=soon + timedelta(hours=i)) for i in range(5)]
    followed = [
        make_event(db, organizer_id=club, starts_at=soon + timedelta(days=1, hours=i))
        for i in range(2)
    ]
    with db.cursor() as cur:
        cur.executemany(
            """INSERT INTO serving.user_recommendations
                   (user_id, event_id, rank, score, model_version)
               VALUES (%s, %s, %s, %s, 'v7')""",
            [(fan, event_id, rank, 1.0 - rank / 10) for rank, event_id in enumerate(ranked, 1)],
        )
    before = (
        await client.get("/api/v1/recommendations/events?limit=6", headers=bearer(fan))
    ).json()
    assert [item["id"] for item in before["recommendations"]] == ranked
    await client.put(f"/api/v1/organizers/{club}/follow", headers=bearer(fan))
    after = (await client.get("/api/v1/recommendations/events?limit=6", headers=bearer(fan))).json()
    ids = [item["id"] for item in after["recommendations"]]
    assert ids == [ranked[0], ranked[1], followed[0], ranked[2], ranked[3], followed[1]]
    third = after["recommendations"][2]
    assert third["reason"] == "from Night Owls, whom you follow"
    assert third["score"] == after["recommendations"][1]["score"]
    assert (after["model_version"], after["source"]) == ("v7", "personalized")
    await client.delete(f"/api/v1/organizers/{club}/follow", headers=bearer(fan))
    gone = (await client.get("/api/v1/recommendations/events?limit=6", headers=bearer(fan))).json()
    assert [item["id"] for item in gone["recommendations"]] == ranked


async def test_registrations_and_history_page_by_cursor(
    client: httpx.AsyncClient, db: psycopg.Connection, organizer: int
) -> None:
    event_id = make_event(db, organizer_id=organizer, capacity=2)
    users = [make_user(db) for _ in range(5)]
    for user_id in users:
        await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(user_id))
    queue, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(
                f"/api/v1/events/{event_id}/registrations", params=params, headers=bearer(organizer)
            )
        ).json()
        assert all("_queue_order" not in item for item in page["items"])
        queue += [item["user_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert queue == users

    fan = users[0]
    history = [
        {
            "id": f"00000000-0000-4000-8000-00000000000{i}",
            "user_id": fan,
            "event_id": event_id,
            "type": "view",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=i)).isoformat(),
        }
        for i in range(5)
    ]
    posted = await client.post("/api/v1/interactions", json=history, headers=SERVICE)
    assert posted.status_code == 202, posted.text
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(f"/api/v1/users/{fan}/interactions", params=params, headers=SERVICE)
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [item["id"] for item in history]
