"""Landed-file validation: every row is loaded, quarantined with a reason, or a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from core.contracts import EVENTS, INTERACTIONS
from pipelines.ingest.parsing import read_landed_file, validate

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _line(iid: str, user: object = 1, event: object = 10, ts: str = "2026-05-01T10:00:00Z") -> str:
    return (
        f'{{"interaction_id": "{iid}", "user_id": {user}, "event_id": {event}, '
        f'"type": "view", "timestamp": "{ts}", "source": "web", "context": {{"page": "home"}}}}'
    )


def test_corrupted_interactions_file_accounts_for_every_line(tmp_path: Path) -> None:
    path = tmp_path / "part-0000.jsonl"
    lines = [
        _line("a"),
        _line("b", ts="2027-01-01T00:00:00Z"),  # future
        _line("c", event=999),  # unknown event
        _line("a"),  # duplicate
        _line("d", user='"zz"'),  # wrong type
        _line("e", ts="yesterday"),  # bad timestamp
        _line("f"),
    ]
    body = "\n".join(lines).encode() + b'\n{"interaction_id": "g", "user_id": \xff\xfe}\n'
    body += b'{"interaction_id": "h", "user_id": 1, "ev'  # truncated last line
    path.write_bytes(body)

    frame, unknown = read_landed_file(path, INTERACTIONS)
    batch = validate(
        frame,
        INTERACTIONS,
        now=NOW,
        known_ids={"event_id": pl.Series([10], dtype=pl.Int64)},
        unknown_columns=unknown,
    )

    assert batch.rows_read == 9
    assert batch.good["interaction_id"].to_list() == ["a", "f"]
    assert batch.duplicates == 1
    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == {
        2: "timestamp is in the future",
        3: "unknown event_id 999",
        5: "user_id is not an integer: 'zz'",
        6: "timestamp is not an ISO-8601 timestamp with offset: 'yesterday'",
        8: "invalid UTF-8",
        9: "not a valid JSON object (malformed or truncated line)",
    }
    assert batch.good.height + batch.rejected.height + batch.duplicates == batch.rows_read
    assert batch.good["timestamp"].dtype == pl.Datetime("us", "UTC")


def test_events_csv_types_lists_and_reports_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    header = (
        "event_id,title,description,category,tags,starts_at,ends_at,venue_name,city,lat,lng,"
        "capacity,price,currency,organizer_id,status,created_at,updated_at,promo_code"
    )
    good = (
        '1,PyCon,"A, conference",conference,python|data,2026-07-01T09:00:00+02:00,'
        "2026-07-01T18:00:00+02:00,Hall,Berlin,52.5,13.4,100,0,EUR,,published,"
        "2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,X1"
    )
    bad = (
        "2,Bad,,meetup,,2026-07-01T09:00:00Z,2026-07-01T08:00:00Z,,Paris,48.8,2.3,10,5,EUR,,"
        "published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,"
    )
    path.write_text("\n".join([header, good, bad]) + "\n")

    frame, unknown = read_landed_file(path, EVENTS)
    batch = validate(frame, EVENTS, now=NOW, unknown_columns=unknown)

    assert unknown == ("promo_code",)
    assert batch.good.height == 1
    row = batch.good.row(0, named=True)
    assert row["tags"] == ["python", "data"]
    assert row["description"] == "A, conference"
    assert row["starts_at"] == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert batch.rejected.rows() == [
        (str(path), 3, "ends_at is not after starts_at", batch.rejected["_record"][0])
    ]
