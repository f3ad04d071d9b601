"""The autocomplete index: word starts, ranking, started events, following the catalogue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from serving.suggestions import PrefixIndex, SuggestionIndex, _Entry, word_starts
from tests.serving.conftest import make_event

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)


def test_word_starts_are_the_name_from_each_word_on() -> None:
    assert word_starts("Python Meetup #42") == ["python meetup #42", "meetup #42", "#42"]
    assert word_starts("") == []


def _event(name: str, rank: int, starts_in_hours: float = 10) -> _Entry:
    starts = NOW + timedelta(hours=starts_in_hours)
    return _Entry({"title": name}, name.lower(), (False, starts, rank), starts)


def test_names_starting_with_the_text_come_first_then_by_rank() -> None:
    index = PrefixIndex(
        [
            _event("Jazz Meetup", 1, starts_in_hours=1),
            _event("Meetup of Makers", 2, starts_in_hours=5),
            _event("Metal Night", 3, starts_in_hours=2),
            _event("Poetry", 4),
            _event("Started Meetup", 5, starts_in_hours=-1),
        ]
    )
    titles = [p["title"] for p in index.lookup("me", 10, NOW)]
    # Names starting with "me" first (by start), then a later word starting with it; the event
    # that has started is left out, and "Poetry" has no word starting with "me".
    assert titles == ["Metal Night", "Meetup of Makers", "Jazz Meetup"]
    assert [p["title"] for p in index.lookup("me", 1, NOW)] == ["Metal Night"]
    assert [p["title"] for p in index.lookup("jazz me", 5, NOW)] == ["Jazz Meetup"]
    assert index.lookup("etup", 5, NOW) == []
    assert index.lookup("%", 5, NOW) == []


async def test_the_index_follows_the_catalogue_after_max_age(
    client, db: psycopg.Connection
) -> None:
    index = SuggestionIndex(max_age=0.0)
    app = client.app  # type: ignore[attr-defined]

    def connect():
        return app.state.pool.connection()

    make_event(db, title="Zymurgy Workshop", city="Zwickau")
    first = await index.suggest(connect, "zym", 5, datetime.now(UTC))
    assert [e["title"] for e in first["events"]] == ["Zymurgy Workshop"]
    assert first["cities"] == []  # "zym" starts no city's word
    assert (await index.suggest(connect, "zwi", 5, datetime.now(UTC)))["cities"] == [
        {"city": "Zwickau", "events": 1}
    ]

    if index._rebuilding is not None:  # the rebuild the last answer started
        await index._rebuilding
    make_event(db, title="Zymurgy Tasting", city="Zwickau")
    # Past max_age the answer still comes from the index in use while it is rebuilt.
    stale = await index.suggest(connect, "zym", 5, datetime.now(UTC))
    assert [e["title"] for e in stale["events"]] == ["Zymurgy Workshop"]
    assert index._rebuilding is not None
    await asyncio.wait_for(index._rebuilding, 10)
    fresh = await index.suggest(connect, "zym", 5, datetime.now(UTC))
    assert {e["title"] for e in fresh["events"]} == {"Zymurgy Workshop", "Zymurgy Tasting"}
    assert (await index.suggest(connect, "zwi", 5, datetime.now(UTC)))["cities"] == [
        {"city": "Zwickau", "events": 2}
    ]
    await index.close()


async def test_an_index_past_max_stale_is_read_again_before_answering(
    client, db: psycopg.Connection
) -> None:
    now = [1000.0]
    index = SuggestionIndex(max_age=100.0, max_stale=200.0, clock=lambda: now[0])
    app = client.app  # type: ignore[attr-defined]

    def connect():
        return app.state.pool.connection()

    make_event(db, title="Quokka Quiz")
    assert len((await index.suggest(connect, "quok", 5, datetime.now(UTC)))["events"]) == 1
    make_event(db, title="Quokka Quest")
    now[0] += 50  # young: the index in use answers, no rebuild started
    assert len((await index.suggest(connect, "quok", 5, datetime.now(UTC)))["events"]) == 1
    assert index._rebuilding is None
    now[0] += 250  # past max_stale: read again before this answer
    assert len((await index.suggest(connect, "quok", 5, datetime.now(UTC)))["events"]) == 2
    assert index._rebuilding is None
