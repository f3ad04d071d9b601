"""Loading landed files into PostgreSQL: exact accounting, quarantine, idempotency, atomic days."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest

from pipelines.ingest.assets import day_batches
from pipelines.ingest.loading import key_order
from tests.pipelines.landing_zone import fresh_landing

pytestmark = pytest.mark.integration

DAY = "2026-03-02"
USERS_CSV = """user_id,email,name,role,home_city,home_lat,home_lng,interests,created_at,updated_at
1,ada@example.com,Ada,attendee,Berlin,52.52,13.40,tech|music,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z
2,bob@example.com,Bob,organizer,Paris,48.85,2.35,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z
"""
EVENTS_CSV = (
    "event_id,title,description,category,tags,starts_at,ends_at,venue_name,city,lat,lng,"
    "capacity,price,currency,organizer_id,status,created_at,updated_at\n"
    "10,PyData Berlin,Talks,conference,python|data,2026-04-01T09:00:00Z,2026-04-01T17:00:00Z,"
    "Hall,Berlin,52.5,13.4,100,0,EUR,2,published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
)


def _line(iid: str, user: object = 1, event: object = 10, ts: str = f"{DAY}T10:00:00Z") -> str:
    return (
        f'{{"interaction_id": "{iid}", "user_id": {user}, "event_id": {event}, "type": "view", '
        f'"timestamp": "{ts}", "source": "web", "context": {{}}, "campaign": "x"}}'
    )


CORRUPTED = (
    "\n".join(
        [
            _line("a"),
            _line("b"),
            _line("a"),  # duplicate id
            _line("c", ts="2099-01-01T00:00:00Z"),  # future
            _line("d", event=999),  # unknown event
            _line("e", user='"x"'),  # wrong type
            _line("f", ts="2026-03-05T00:00:00Z"),  # another day's row in this day's folder
        ]
    ).encode()
    + b'\n{"interaction_id": "g", "user_id": 1, "event_id": 10, "type": "vi\xffew"}\n'
    + b'{"interaction_id": "h", "user_id": 1, "eve'
)


@pytest.fixture
def landing(database_url: str) -> Iterator[Path]:
    root = fresh_landing(
        {
            "users/users.csv": USERS_CSV,
            "events/events.csv": EVENTS_CSV,
            f"interactions/date={DAY}/part-0000.jsonl": CORRUPTED,
        }
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE raw.interactions, raw.users, raw.events, raw.quarantine, raw.landed_files"
        )
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _ingest() -> dict[str, dg.AssetCheckEvaluation]:
    """Load the landing zone; every load commits, whatever its quarantine rate. Returns the
    quarantine-rate evaluations by asset."""
    from pipelines.ingest import assets

    checks = {}
    for selection, key in (
        ([assets.raw_users, assets.raw_events], None),
        ([assets.raw_interactions], DAY),
    ):
        result = dg.materialize(selection, partition_key=key, raise_on_error=False)
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert materialized == {a.key for a in selection}
        for event in result.get_asset_check_evaluations():
            checks[event.asset_key.to_user_string()] = event
    return checks


def _state(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        return {
            "loaded": sorted(
                r[0] for r in conn.execute("SELECT interaction_id FROM raw.interactions")
            ),
            "quarantine": sorted(
                conn.execute(
                    "SELECT line, reason FROM raw.quarantine WHERE dataset = 'interactions'"
                ).fetchall()
            ),
            "ledger": conn.execute(
                "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate "
                "FROM raw.landed_files WHERE dataset = 'interactions'"
            ).fetchall(),
        }


def test_corrupted_file_is_accounted_for_row_by_row(landing: Path, database_url: str) -> None:
    checks = _ingest()
    state = _state(database_url)

    assert state["loaded"] == ["a", "b"]
    assert state["quarantine"] == [
        (4, "timestamp is in the future"),
        (5, "unknown event_id 999"),
        (6, "user_id is not an integer: 'x'"),
        (7, "timestamp is outside the partition day"),
        (8, "invalid UTF-8"),
        (9, "not a valid JSON object (malformed or truncated line)"),
    ]
    assert state["ledger"] == [(9, 2, 6, 1)]
    # Six of nine rows quarantined: the load is kept, and its check blocks what is downstream.
    rate = checks["raw/interactions"]
    assert (rate.passed, rate.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert rate.metadata["rows_quarantined"].value == 6
    examples = rate.metadata["examples"].value
    assert [(e["line"], e["reason"]) for e in examples] == state["quarantine"]
    assert checks["raw/events"].passed
    assert checks["raw/users"].passed


def test_rerun_and_relanding_change_nothing(landing: Path, database_url: str) -> None:
    _ingest()
    first = _state(database_url)
    _ingest()
    assert _state(database_url) == first

    # The same content landed again under another name adds only duplicates.
    day_folder = landing / "interactions" / f"date={DAY}"
    shutil.copy(day_folder / "part-0000.jsonl", day_folder / "part-0001.jsonl")
    _ingest()
    again = _state(database_url)
    assert again["loaded"] == first["loaded"]
    assert len(again["quarantine"]) == 2 * len(first["quarantine"])


def test_day_batches_are_bounded_by_bytes() -> None:
    days = [date(2026, 1, d) for d in range(1, 6)]
    sizes = dict.fromkeys(days, 10)
    assert day_batches(days, sizes, 25) == [days[0:2], days[2:4], days[4:5]]
    assert day_batches(days, sizes, 5) == [[d] for d in days]


def test_rows_are_sent_in_primary_key_byte_order() -> None:
    early, late = datetime(2026, 3, 2, 8, tzinfo=UTC), datetime(2026, 3, 2, 9, tzinfo=UTC)
    rows = pl.DataFrame(
        {
            "interaction_id": ["b", "a", "é", "Z", "a", "ab"],
            "occurred_at": [early, late, early, early, early, early],
        }
    )
    # Byte order, as the server's C.UTF-8 collation compares: "Z" < "a" < "ab" < "b" < "é".
    assert key_order(rows).to_list() == [3, 4, 1, 5, 0, 2]


def test_parquet_files_load_beside_json_lines(landing: Path, database_url: str) -> None:
    day_folder = landing / "interactions" / f"date={DAY}"
    pl.DataFrame(
        {
            "interaction_id": ["p1", "p2", "a"],
            "user_id": [1, 1, 2],
            "event_id": [10, 999, 10],
            "type": ["click", "view", "view"],
            "timestamp": [datetime(2026, 3, 2, 12, tzinfo=UTC)] * 3,
            "source": ["app"] * 3,
            "context": [{"page": "search"}] * 3,
        }
    ).write_parquet(day_folder / "part-0001.parquet")
    _ingest()
    state = _state(database_url)

    # "a" of the Parquet file repeats the JSON Lines file's "a", which comes first by name.
    assert state["loaded"] == ["a", "b", "p1"]
    assert (2, "unknown event_id 999") in state["quarantine"]
    assert sorted(state["ledger"]) == [(3, 1, 1, 1), (9, 2, 6, 1)]
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT user_id, context FROM raw.interactions WHERE interaction_id = 'p1'"
        ).fetchone()
    assert row == (1, {"page": "search"})


PARTNER_FEED = (
    '{"event_id": 910, "external_id": "p0k3c9x2a", "title": "Rust Night #12", '
    '"description": "Talks", "category": null, "tags": ["rust"], '
    '"starts_at": "2026-04-02T18:00:00Z", "ends_at": "2026-04-02T20:00:00Z", '
    '"venue_name": "Riverside Hub", "city": null, "lat": 52.51, "lng": 13.39, "capacity": 40, '
    '"price": null, "currency": "EUR", "organizer_id": 2, "series_id": null, "venue_id": 3, '
    '"status": "published", "created_at": "2026-01-01T00:00:00Z", '
    '"updated_at": "2026-01-02T00:00:00Z"}\n'
    '{"event_id": 911, "external_id": "p9zz01ab", "title": "Rust Night Online #13", '
    '"category": "meetup", "starts_at": "2026-04-09T18:00:00Z", '
    '"ends_at": "2026-04-09T20:00:00Z", "venue_name": "Online", "capacity": 500, "price": 0, '
    '"currency": "EUR", "series_id": 77, "status": "published", '
    '"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"}\n'
)


def test_series_venue_and_partner_ids_reach_the_catalogue_with_fields_left_out(
    landing: Path, database_url: str
) -> None:
    from pipelines.ingest.assets import _PUBLISH_EVENTS

    (landing / "events" / "partner-feed.jsonl").write_text(PARTNER_FEED)
    _ingest()
    columns = "event_id, external_id, category, city, price, series_id, venue_id, lat"
    with psycopg.connect(database_url, autocommit=True) as conn:
        raw = conn.execute(f"SELECT {columns} FROM raw.events ORDER BY event_id").fetchall()
        conn.execute("DELETE FROM app.events WHERE id IN (910, 911)")
        conn.execute(_PUBLISH_EVENTS)
        app = conn.execute(
            f"SELECT {columns.replace('event_id', 'id')} FROM app.events"
            " WHERE id IN (910, 911) ORDER BY id"
        ).fetchall()
        conn.execute("DELETE FROM app.events WHERE id IN (910, 911)")
        quarantined = conn.execute(
            "SELECT count(*) FROM raw.quarantine WHERE dataset = 'events'"
        ).fetchone()

    assert raw == [
        (10, None, "conference", "Berlin", 0, None, None, 52.5),  # a feed without the new columns
        (910, "p0k3c9x2a", None, None, None, None, 3, 52.51),
        (911, "p9zz01ab", "meetup", None, 0, 77, None, None),
    ]
    assert app == raw[1:]
    assert quarantined == (0,)
