"""The demo logins ``make run`` prints: they log in and show personal recommendations."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest

from tests.serving.conftest import make_event, make_user

pytestmark = pytest.mark.anyio


@pytest.fixture
def history(db: psycopg.Connection) -> Iterator[dict[str, int]]:
    """Two generated users with history (one with more) and personal sets, in a partition of
    raw.interactions of its own (a year no ingest test uses)."""
    db.execute(
        """CREATE TABLE raw.interactions_demo_test PARTITION OF raw.interactions
           FOR VALUES FROM ('2001-01-01') TO ('2001-02-01')"""
    )
    busy, quiet = make_user(db, city="Berlin"), make_user(db)
    events = [make_event(db, title=f"Pick {n}") for n in range(3)]
    for n, user in enumerate([busy, busy, busy, quiet]):
        db.execute(
            """INSERT INTO raw.interactions (interaction_id, user_id, event_id, type,
                   occurred_at, source, _source_file)
               VALUES (%s, %s, %s, 'view', '2001-01-05', 'web', 'demo.jsonl')""",
            (f"demo-{n}", user, events[n % 3]),
        )
    for user in (busy, quiet):
        for rank, event_id in enumerate(events, start=1):
            db.execute(
                "INSERT INTO serving.user_recommendations VALUES (%s, %s, %s, %s, %s, 'v1')",
                (user, rank, event_id, 1.0 / rank, f"because you viewed Pick {rank}"),
            )
    try:
        yield {"busy": busy, "quiet": quiet}
    finally:
        db.execute("DROP TABLE raw.interactions_demo_test")
        db.execute(
            "DELETE FROM serving.user_recommendations WHERE user_id IN (%s, %s)", (busy, quiet)
        )


async def test_demo_logins_fetch_personal_recommendations_with_reasons(client, history):
    from core.settings import Settings, get_settings
    from serving.demo import demo_login_text

    assert demo_login_text(get_settings(), 8000) == ""  # an external database: no demo
    local = Settings(database_url=None)
    text = demo_login_text(local, 8000)
    again = demo_login_text(local, 8000)
    assert text == again  # passwords are kept between runs
    email, password = re.search(r"user   (\S+) / (\S+)", text).groups()
    admin_email, admin_password = re.search(r"admin  (\S+) / (\S+)", text).groups()
    assert f"(id {history['busy']}:" in text
    assert "curl -s http://127.0.0.1:8000/api/v1/auth/login" in text

    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200
    token = login.json()["token"]
    answer = await client.get(
        "/api/v1/recommendations/events",
        params={"limit": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = answer.json()
    assert body["user_id"] == history["busy"]
    assert body["source"] == "personalized"
    reasons = [item["reason"] for item in body["recommendations"]]
    assert reasons == [f"because you viewed Pick {rank}" for rank in (1, 2, 3)]

    admin = await client.post(
        "/api/v1/auth/login", json={"email": admin_email, "password": admin_password}
    )
    assert admin.json()["user"]["role"] == "admin"
