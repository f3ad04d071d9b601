"""Places taken per event (migration 0015): kept by the registrations' triggers, whoever writes."""

from __future__ import annotations

import psycopg
import pytest

from tests.serving.conftest import bearer, make_event, make_user

pytestmark = pytest.mark.anyio


def taken(db: psycopg.Connection, event_id: int) -> int | None:
    row = db.execute("SELECT taken FROM app.event_places WHERE event_id = %s", (event_id,))
    found = row.fetchone()
    return found["taken"] if found else None


async def test_api_registrations_cancellations_and_promotions_are_counted(client, db):
    event_id = make_event(db, capacity=2)
    a, b, c = make_user(db), make_user(db), make_user(db)
    for user in (a, b, c):
        await client.post(f"/api/v1/events/{event_id}/registrations", headers=bearer(user))
    assert taken(db, event_id) == 2  # c waits
    await client.delete(f"/api/v1/events/{event_id}/registrations/{a}", headers=bearer(a))
    assert taken(db, event_id) == 2  # a's place went to c
    await client.delete(f"/api/v1/events/{event_id}/registrations/{b}", headers=bearer(b))
    assert taken(db, event_id) == 1


def test_bulk_writes_outside_the_api_are_counted(db):
    first, second = make_event(db), make_event(db)
    users = [make_user(db) for _ in range(4)]
    db.execute(
        """INSERT INTO app.registrations (user_id, event_id, status)
           SELECT u, e, s FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS t(u, e, s)""",
        (
            users,
            [first, first, first, second],
            ["confirmed", "attended", "waitlisted", "confirmed"],
        ),
    )
    assert (taken(db, first), taken(db, second)) == (2, 1)
    db.execute(
        "UPDATE app.registrations SET status = 'cancelled' WHERE event_id = %s AND status = "
        "'confirmed'",
        (first,),
    )
    db.execute("UPDATE app.registrations SET status = 'confirmed' WHERE event_id = %s", (second,))
    assert (taken(db, first), taken(db, second)) == (1, 1)
    db.execute("DELETE FROM app.registrations WHERE event_id IN (%s, %s)", (first, second))
    assert (taken(db, first), taken(db, second)) == (0, 0)
