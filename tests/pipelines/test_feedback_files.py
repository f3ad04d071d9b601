"""The recommendation widget's landed logs: exact accounting, quarantine, one row per id."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from tests.pipelines.landing_zone import fresh_landing

pytestmark = pytest.mark.integration

DAY = "2026-03-02"
USERS_CSV = """user_id,email,name,role,home_city,home_lat,home_lng,interests,created_at,updated_at
1,ada@example.com,Ada,attendee,Berlin,52.52,13.40,tech|music,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z
"""
EVENTS_CSV = (
    "event_id,title,description,category,tags,starts_at,ends_at,venue_name,city,lat,lng,"
    "capacity,price,currency,organizer_id,status,created_at,updated_at\n"
    "10,PyData Berlin,Talks,conference,python|data,2026-04-01T09:00:00Z,2026-04-01T17:00:00Z,"
    "Hall,Berlin,52.5,13.4,100,0,EUR,,published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
)
IDS = [str(uuid.UUID(int=n)) for n in range(1, 20)]
API_ID = IDS[18]


def _row(n: int, **changes: object) -> str:
    row: dict[str, object] = {
        "feedback_id": IDS[n],
        "user_id": 1,
        "event_id": 10,
        "model_version": "als-v3",
        "action": "impression",
        "position": n + 1,
        "occurred_at": f"{DAY}T10:00:00+00:00",
    }
    row.update(changes)
    return json.dumps({k: v for k, v in row.items() if v is not ...})


BROKEN = "\n".join(
    [
        _row(0),
        _row(1, action="click", position=None),
        _row(0),  # the same id again in the file
        _row(2, feedback_id="not-a-uuid"),
        _row(3, action="purchase"),
        _row(4, position=-1),
        _row(5, position=2**31),
        _row(6, position=2.5),
        _row(7, event_id=999),
        _row(8, user_id={"a": 1}),
        _row(9, occurred_at="2099-01-01T00:00:00+00:00"),
        _row(10, model_version=...),
        _row(11, model_version="x" * 201),
        _row(12, occurred_at="yesterday"),
        _row(13, feedback_id=API_ID),  # the API recorded this id already
        '{"feedback_id": "' + IDS[14] + '", "user_id": 1, "event',
    ]
)


@pytest.fixture
def landing(database_url: str) -> Iterator[Path]:
    root = fresh_landing(
        {
            "users/users.csv": USERS_CSV,
            "events/events.csv": EVENTS_CSV,
            f"recommendation_feedback/date={DAY}/part-0000.jsonl": BROKEN + "\n",
        }
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE raw.users, raw.events, raw.quarantine, raw.landed_files, "
            "raw.recommendation_feedback"
        )
        conn.execute(
            """INSERT INTO raw.recommendation_feedback (feedback_id, user_id, event_id,
                   model_version, action, position, occurred_at, received_at)
               VALUES (%s, 1, 10, 'als-v3', 'click', 1, now(), now())""",
            (API_ID,),
        )
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _load() -> dg.AssetCheckEvaluation:
    from pipelines.ingest import assets

    dg.materialize([assets.raw_users, assets.raw_events], raise_on_error=True)
    # A blocking check that fails stops the run after the load committed.
    result = dg.materialize([assets.raw_app_tables], raise_on_error=False)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert assets.RAW_FEEDBACK in materialized
    (check,) = result.get_asset_check_evaluations()
    return check


def _state(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        return {
            "loaded": conn.execute(
                "SELECT feedback_id::text, action, position, _source_file LIKE '%%part-%%' "
                "FROM raw.recommendation_feedback ORDER BY 1"
            ).fetchall(),
            "quarantine": sorted(
                conn.execute(
                    "SELECT line, reason FROM raw.quarantine"
                    " WHERE dataset = 'recommendation_feedback'"
                ).fetchall()
            ),
            "ledger": sorted(
                conn.execute(
                    "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate"
                    " FROM raw.landed_files WHERE dataset = 'recommendation_feedback'"
                ).fetchall()
            ),
        }


def test_every_broken_row_is_quarantined_with_its_reason(landing: Path, database_url: str) -> None:
    check = _load()
    state = _state(database_url)

    assert state["loaded"] == [
        (IDS[0], "impression", 1, True),
        (IDS[1], "click", None, True),
        (API_ID, "click", 1, False),
    ]
    assert state["quarantine"] == [
        (4, "feedback_id is not a UUID"),
        (5, "action is not an accepted feedback action"),
        (6, "position is negative"),
        (7, f"position is larger than {2**31 - 1}"),
        (8, "position is not an integer: '2.5'"),
        (9, "unknown event_id 999"),
        (10, "user_id is not an integer: '{\"a\":1}'"),
        (11, "occurred_at is in the future"),
        (12, "missing required field model_version"),
        (13, "model_version is longer than 200 characters"),
        (14, "occurred_at is not an ISO-8601 timestamp with offset: 'yesterday'"),
        (16, "not a valid JSON object (malformed or truncated line)"),
    ]
    # 16 read = 2 loaded + 12 quarantined + 2 duplicates (one in the file, one the API's).
    assert state["ledger"] == [(16, 2, 12, 2)]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert check.metadata["rows_quarantined"].value == 12


def test_relanding_is_a_no_op_and_a_corrected_file_replaces_its_rows(
    landing: Path, database_url: str
) -> None:
    _load()
    first = _state(database_url)
    _load()
    assert _state(database_url) == first

    # The same rows under another name are all duplicates or quarantined again.
    folder = landing / "recommendation_feedback" / f"date={DAY}"
    shutil.copy(folder / "part-0000.jsonl", folder / "part-0001.jsonl")
    _load()
    again = _state(database_url)
    assert again["loaded"] == first["loaded"]
    # The ledger knows a content once (by its digest): it now names the copy, all duplicates.
    assert again["ledger"] == [(16, 0, 12, 4)]

    # A corrected delivery under the first name: its earlier rows go, its new rows come.
    (folder / "part-0001.jsonl").unlink()
    time.sleep(0.01)
    (folder / "part-0000.jsonl").write_text(_row(15, action="register", position=None) + "\n")
    _load()
    loaded = _state(database_url)["loaded"]
    assert [row[0] for row in loaded] == sorted([IDS[15], API_ID])
