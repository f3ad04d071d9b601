"""Cached recommendation answers: served from memory, dropped by every change they depend on."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from pipelines.ml import publish
from serving.answer_cache import AnswerCache
from tests.serving.conftest import bearer, make_event, make_user

pytestmark = pytest.mark.anyio

FAR = time.time() + 86_400


def filled(cache: AnswerCache, key: Any, user_id: int, events: tuple[int, ...]) -> None:
    cache.put(
        key,
        cache.ticket(user_id),
        user_id=user_id,
        body=f"{key}".encode(),
        event_ids=events,
        first_start=FAR,
    )


def listening_cache(ttl: float = 30.0) -> AnswerCache:
    cache = AnswerCache(ttl=ttl)
    cache.start_listening()
    return cache


def test_answers_are_served_only_while_listening():
    cache = AnswerCache(ttl=30.0)
    filled(cache, "a", 1, (10,))
    assert cache.get("a") is None  # not listening: nothing is stored
    cache.start_listening()
    filled(cache, "a", 1, (10,))
    assert cache.get("a") == b"a"
    cache.stop_listening()
    assert cache.get("a") is None
    cache.start_listening()
    assert cache.get("a") is None  # what was kept before the gap is gone
    assert (cache.hits, cache.misses) == (1, 3)


def test_a_user_change_drops_that_users_answers_only():
    cache = listening_cache()
    filled(cache, (1, 5), 1, (10, 11))
    filled(cache, (1, 10), 1, (10,))
    filled(cache, (2, 5), 2, (10,))
    cache.apply("u:1")
    assert cache.get((1, 5)) is None
    assert cache.get((1, 10)) is None
    assert cache.get((2, 5)) == b"(2, 5)"


def test_a_taken_place_drops_the_answers_showing_the_event():
    cache = listening_cache()
    filled(cache, "shows", 1, (10, 11))
    filled(cache, "other", 2, (12,))
    cache.apply("x:11")
    assert cache.get("shows") is None
    assert cache.get("other") == b"other"
    assert len(cache) == 1


def test_anything_else_drops_every_answer():
    cache = listening_cache()
    filled(cache, "a", 1, (10,))
    filled(cache, "b", 2, ())
    cache.apply("*")
    assert len(cache) == 0
    cache.apply("garbage")  # unknown messages are treated as "anything changed"
    assert cache.get("a") is None


def test_an_answer_computed_across_a_change_is_not_kept():
    cache = listening_cache()
    ticket = cache.ticket(1)
    cache.apply("u:1")  # arrives while the answer is being computed
    cache.put("a", ticket, user_id=1, body=b"stale", event_ids=(), first_start=FAR)
    assert cache.get("a") is None
    other = cache.ticket(2)
    cache.apply("u:1")  # another user's change does not concern user 2
    cache.put("b", other, user_id=2, body=b"fresh", event_ids=(), first_start=FAR)
    assert cache.get("b") == b"fresh"
    ticket = cache.ticket(2)
    cache.apply("x:99")  # a filled event may be in any answer being computed
    cache.put("c", ticket, user_id=2, body=b"stale", event_ids=(), first_start=FAR)
    assert cache.get("c") is None


def test_answers_expire_with_their_ttl_and_when_an_event_starts():
    cache = listening_cache(ttl=0.05)
    filled(cache, "ttl", 1, (10,))
    cache.put("started", cache.ticket(2), user_id=2, body=b"x", event_ids=(11,), first_start=0)
    assert cache.get("started") is None
    assert cache.get("ttl") == b"ttl"
    time.sleep(0.06)
    assert cache.get("ttl") is None
    assert len(cache) == 0


def test_a_zero_ttl_turns_the_cache_off():
    cache = listening_cache(ttl=0)
    filled(cache, "a", 1, ())
    assert cache.get("a") is None


# --- the cache in the app, against the real database -------------------------------------------


@pytest.fixture
async def cached_client(db: psycopg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its answer cache on, once the change listener is connected."""
    from serving.app import create_app

    app = create_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"
        ) as http,
    ):
        answers: AnswerCache = app.state.recommendation_answers
        await wait_for(lambda: answers.listening)
        http.app = app  # type: ignore[attr-defined]
        yield http


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def world(db: psycopg.Connection) -> dict[str, int]:
    """A user with a precomputed set of three events, one of them with a single place."""
    ids = {"alice": make_user(db, city="Berlin"), "bob": make_user(db, city="Berlin")}
    for name, capacity in (("first", 100), ("second", 1), ("third", 100)):
        ids[name] = make_event(db, title=name, capacity=capacity)
    for rank, name in enumerate(("first", "second", "third"), start=1):
        db.execute(
            "INSERT INTO serving.user_recommendations VALUES (%s, %s, %s, %s, %s, 'v1')",
            (ids["alice"], rank, ids[name], 1.0 - rank / 10, "for you"),
        )
    return ids


async def shown(client: httpx.AsyncClient, world: dict[str, int]) -> list[int]:
    response = await client.get(
        "/api/v1/recommendations/events",
        params={"limit": 3, "algorithm": "personalized"},
        headers=bearer(world["alice"]),
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["recommendations"]]


async def eventually_shown(
    client: httpx.AsyncClient, world: dict[str, int], expected: list[int]
) -> None:
    """Changes by other connections arrive as messages: wait (briefly) for the answer to follow."""
    deadline = time.monotonic() + 5.0
    while (current := await shown(client, world)) != expected:
        assert time.monotonic() < deadline, f"still {current}, expected {expected}"
        await asyncio.sleep(0.01)


async def test_repeated_reads_come_from_memory(cached_client, world):
    answers: AnswerCache = cached_client.app.state.recommendation_answers
    everything = [world["first"], world["second"], world["third"]]
    assert await shown(cached_client, world) == everything
    hits = answers.hits
    for _ in range(3):
        assert await shown(cached_client, world) == everything
    assert answers.hits == hits + 3
    metrics = (await cached_client.get("/metrics")).text
    assert f"api_recommendation_answers_hits {float(answers.hits)}" in metrics
    assert "api_recommendation_answers_listening 1.0" in metrics


async def test_changes_by_other_writers_reach_the_answers(cached_client, world, db):
    first, second, third = world["first"], world["second"], world["third"]
    assert await shown(cached_client, world) == [first, second, third]
    # Another user takes the last place of ``second``.
    db.execute(
        "INSERT INTO app.registrations (user_id, event_id, status) VALUES (%s, %s, 'confirmed')",
        (world["bob"], second),
    )
    await eventually_shown(cached_client, world, [first, third])
    # The place is freed again: the event comes back.
    db.execute("UPDATE app.registrations SET status = 'cancelled' WHERE event_id = %s", (second,))
    await eventually_shown(cached_client, world, [first, second, third])
    # Alice dismisses ``first``.
    db.execute(
        """INSERT INTO app.interactions (id, user_id, event_id, type, occurred_at)
           VALUES (%s, %s, %s, 'dismiss', now())""",
        (uuid.uuid4(), world["alice"], first),
    )
    await eventually_shown(cached_client, world, [second, third])
    # An organiser cancels ``third`` directly in the database.
    db.execute("UPDATE app.events SET status = 'cancelled' WHERE id = %s", (third,))
    await eventually_shown(cached_client, world, [second])
    # The dismissal is taken back (outside the API): ``first`` returns.
    db.execute("DELETE FROM app.interactions WHERE user_id = %s", (world["alice"],))
    await eventually_shown(cached_client, world, [first, second])


async def test_a_swapped_in_set_replaces_the_answers(cached_client, world, db):
    assert await shown(cached_client, world) == [world["first"], world["second"], world["third"]]
    with db.transaction():
        publish.create_next_tables(db)
        for table in publish.SERVING_TABLES:
            db.execute(f"INSERT INTO serving.{table}_next SELECT * FROM serving.{table}")
        db.execute(
            "DELETE FROM serving.user_recommendations_next WHERE user_id = %s AND rank = 1",
            (world["alice"],),
        )
        publish.swap_in_next_tables(db)
    await eventually_shown(cached_client, world, [world["second"], world["third"]])


async def test_a_users_own_writes_are_read_back_at_once(cached_client, world, monkeypatch):
    first, second, third = world["first"], world["second"], world["third"]
    answers: AnswerCache = cached_client.app.state.recommendation_answers
    # Messages may take longer than the client's next request: the worker must not need them.
    monkeypatch.setattr(answers, "apply", lambda payload: None)
    alice = bearer(world["alice"])
    assert await shown(cached_client, world) == [first, second, third]
    response = await cached_client.post(
        f"/api/v1/events/{first}/registrations", json={}, headers=alice
    )
    assert response.status_code == 201, response.text
    assert await shown(cached_client, world) == [second, third]
    response = await cached_client.post(
        "/api/v1/recommendations/feedback",
        json={
            "id": str(uuid.uuid4()),
            "user_id": world["alice"],
            "event_id": third,
            "model_version": "v1",
            "action": "dismiss",
        },
        headers=alice,
    )
    assert response.status_code == 202, response.text
    assert await shown(cached_client, world) == [second]
    response = await cached_client.delete(
        f"/api/v1/events/{first}/registrations/{world['alice']}", headers=alice
    )
    assert response.status_code == 200, response.text
    assert await shown(cached_client, world) == [first, second]


async def test_the_cache_stops_answering_when_the_listener_loses_its_connection(
    cached_client, world, db
):
    answers: AnswerCache = cached_client.app.state.recommendation_answers
    assert await shown(cached_client, world) == [world["first"], world["second"], world["third"]]
    db.execute(
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE query = 'LISTEN recommendations_changed' AND pid <> pg_backend_pid()"""
    )
    await wait_for(lambda: not answers.listening)
    assert len(answers) == 0
    # Unheard while disconnected: the dismissal must still show once answers are cached again.
    db.execute(
        """INSERT INTO app.interactions (id, user_id, event_id, type, occurred_at)
           VALUES (%s, %s, %s, 'dismiss', now())""",
        (uuid.uuid4(), world["alice"], world["first"]),
    )
    assert await shown(cached_client, world) == [world["second"], world["third"]]
    await wait_for(lambda: answers.listening)
    assert await shown(cached_client, world) == [world["second"], world["third"]]
    assert await shown(cached_client, world) == [world["second"], world["third"]]
