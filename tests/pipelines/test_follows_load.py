"""Landed follows of organisers: checked row by row, published once, an API unfollow kept."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from tests.pipelines.landing_zone import fresh_landing

pytestmark = pytest.mark.integration

USERS_CSV = """user_id,email,name,role,home_city,home_lat,home_lng,interests,created_at,updated_at
9101,ada.follows@example.com,Ada,attendee,Berlin,52.52,13.40,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z
9102,bob.follows@example.com,Bob,organizer,Paris,48.85,2.35,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z
9103,cy.follows@example.com,Cy,attendee,Paris,48.85,2.35,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z
"""
FOLLOWS_CSV = """user_id,organizer_id,followed_at
9101,9102,2026-01-05T00:00:00Z
9103,9102,2026-01-06T00:00:00Z
9101,9102,2026-01-07T00:00:00Z
9102,9102,2026-01-07T00:00:00Z
9101,9103,2026-01-07T00:00:00Z
9109,9102,2026-01-07T00:00:00Z
9101,9102.5,2026-01-07T00:00:00Z
9103,9102,2099-01-01T00:00:00Z
9103,9102,
"""


@pytest.fixture
def landing(database_url: str) -> Iterator[Path]:
    root = fresh_landing(
        {"users/users.csv": USERS_CSV, "organizer_follows/follows.csv": FOLLOWS_CSV}
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE raw.users, raw.events, raw.organizer_follows, raw.quarantine, "
            "raw.landed_files, app.organizer_follows"
        )
        conn.execute("DELETE FROM raw.watermarks WHERE source = 'raw.organizer_follows'")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _load() -> dict[str, dg.AssetCheckEvaluation]:
    from pipelines.ingest import assets

    selection = [
        assets.raw_users,
        assets.raw_events,
        assets.raw_organizer_follows,
        assets.app_catalogue,
        assets.app_organizer_follows,
    ]
    # The follows' blocking check fails on this file: the load commits, the publish is skipped.
    result = dg.materialize(selection, raise_on_error=False)
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_each_broken_follow_is_quarantined_with_its_reason(
    landing: Path, database_url: str
) -> None:
    checks = _load()

    assert _rows(
        database_url,
        "SELECT user_id, organizer_id, followed_at::date::text FROM raw.organizer_follows"
        " ORDER BY 1, 2",
    ) == [(9101, 9102, "2026-01-07"), (9103, 9102, "2026-01-06")]
    assert _rows(
        database_url,
        "SELECT line, reason FROM raw.quarantine WHERE dataset = 'organizer_follows' ORDER BY 1",
    ) == [
        (5, "a user cannot follow themselves"),
        (6, "unknown organizer_id 9103"),
        (7, "unknown user_id 9109"),
        (8, "organizer_id is not an integer: '9102.5'"),
        (9, "followed_at is in the future"),
        (10, "missing required field followed_at"),
    ]
    # 9 read = 2 loaded + 6 quarantined + 1 duplicate (the pair's earlier follow).
    assert _rows(
        database_url,
        "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate FROM raw.landed_files"
        " WHERE dataset = 'organizer_follows'",
    ) == [(9, 2, 6, 1)]
    assert not checks["raw/organizer_follows"].passed


def test_follows_are_published_once_and_an_unfollow_stays(landing: Path, database_url: str) -> None:
    (landing / "organizer_follows" / "follows.csv").write_text(
        "user_id,organizer_id,followed_at\n"
        "9101,9102,2026-01-05T00:00:00Z\n"
        "9103,9102,2026-01-06T00:00:00Z\n"
    )
    checks = _load()
    assert checks["raw/organizer_follows"].passed
    published = (
        "SELECT user_id, organizer_id FROM app.organizer_follows WHERE user_id > 9100 ORDER BY 1, 2"
    )
    assert _rows(database_url, published) == [(9101, 9102), (9103, 9102)]

    # User 3 unfollows through the API; the partner's next export still lists the old follow.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM app.organizer_follows WHERE user_id = 9103")
    _load()
    assert _rows(database_url, published) == [(9101, 9102)]

    # A follow made again later, as the export shows it, is published.
    with (landing / "organizer_follows" / "follows.csv").open("a") as handle:
        handle.write("9103,9102,2026-02-01T00:00:00Z\n")
    _load()
    assert _rows(database_url, published) == [(9101, 9102), (9103, 9102)]
