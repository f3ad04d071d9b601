"""No bad row stops a load: every value PostgreSQL would refuse is quarantined, the rest loads,
and the accounting holds per file and per partition, in a backfill too."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest

from core.settings import get_settings

pytestmark = pytest.mark.integration

DAY1, DAY2 = "2026-03-02", "2026-03-03"
USERS_CSV = (
    "user_id,email,name,role,home_city,home_lat,home_lng,interests,created_at,updated_at\n"
    "1,ada@example.com,Ada,attendee,Berlin,52.5,13.4,tech,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
    "2,bob@example.com,Bob,organizer,Paris,48.8,2.3,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
    "4,dan@example.com,Dan,attendee\n"  # too few fields
    '3,"carl@example.com,Carl,attendee,,,,,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n'
)
EVENTS_CSV = (
    "event_id,title,description,category,tags,starts_at,ends_at,venue_name,city,lat,lng,"
    "capacity,price,currency,organizer_id,status,created_at,updated_at\n"
    "10,PyData,Talks,conference,python,2026-04-01T09:00:00Z,2026-04-01T17:00:00Z,Hall,Berlin,"
    "52.5,13.4,100,0,EUR,2,published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
    "11,Half,Talks,conference,,2026-04-01T09:00:00Z,2026-04-01T17:00:00Z,Hall,Berlin,"
    "52.5,13.4,12.5,0,EUR,2,published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
    # A quote inside an unquoted field is a character of it (as most CSV writers mean it).
    '13,A "stray" quote,x,meetup,,2026-04-01T09:00:00Z,2026-04-01T17:00:00Z,,,,,1,0,EUR,,'
    "published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
    '12,Workshop,"Two\nlines",workshop,,2026-04-02T09:00:00Z,2026-04-02T17:00:00Z,,Paris,'
    ",,10,5,EUR,,published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
)


def _interaction(day: str, **fields: object) -> str:
    record: dict[str, object] = {
        "interaction_id": "x",
        "user_id": 1,
        "event_id": 10,
        "type": "view",
        "timestamp": f"{day}T10:00:00Z",
        "source": "web",
        "context": {"page": "home"},
    }
    record.update(fields)
    return json.dumps(record)


DAY1_LINES = [
    _interaction(DAY1, interaction_id="a"),
    _interaction(DAY1, interaction_id="b", event_id=12),
    _interaction(DAY1, interaction_id="s", context="not-an-object"),
    _interaction(DAY1, interaction_id="r", context=["a"]),
    _interaction(DAY1, interaction_id="z", context={"q": "a\u0000b"}),
    _interaction(DAY1, interaction_id="c", context={"q": 'say "hi" \\ \n'}),
    _interaction(DAY1, interaction_id="f", event_id=12.5),
    _interaction(DAY1, interaction_id={"a": 1}),
    _interaction(DAY1, interaction_id="t", user_id=True),
    _interaction(DAY1, interaction_id="o", user_id=2**63),
    _interaction(DAY1, interaction_id="a"),  # duplicate
    _interaction(DAY1, interaction_id="n\u0000"),
    _interaction(DAY1, interaction_id="l" * 201),
    _interaction(DAY1, interaction_id="d", context=None),
]
DAY1_REASONS = [
    (3, "context is not a JSON object: 'not-an-object'"),
    (4, "context is not a JSON object: '[\"a\"]'"),
    (5, "context contains a NUL character"),
    (7, "event_id is not an integer: '12.5'"),
    (8, "interaction_id is not a string: '{\"a\":1}'"),
    (9, "user_id is not an integer: 'true'"),
    (10, f"user_id is out of range: '{2**63}'"),
    (12, "interaction_id contains a NUL character"),
    (13, "interaction_id is longer than 200 characters"),
]
DAY2_LINES = [
    _interaction(DAY2, interaction_id="e"),
    _interaction(DAY2, interaction_id="g2", timestamp="0000-03-03T10:00:00Z"),
    '{"interaction_id": "h2", "user_id": 1, "ev',
    _interaction(DAY2, interaction_id="f2"),
]


@pytest.fixture
def landing(database_url: str) -> Iterator[Path]:
    root = get_settings().landing_dir
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("users", "events", f"interactions/date={DAY1}", f"interactions/date={DAY2}"):
        (root / folder).mkdir(parents=True)
    (root / "users" / "users.csv").write_text(USERS_CSV)
    (root / "events" / "events.csv").write_text(EVENTS_CSV)
    (root / "interactions" / f"date={DAY1}" / "part-0000.jsonl").write_text(
        "\n".join(DAY1_LINES) + "\n"
    )
    day2 = root / "interactions" / f"date={DAY2}"
    (day2 / "part-0000.jsonl").write_text("\n".join(DAY2_LINES) + "\n")
    pl.DataFrame(
        {
            "interaction_id": ["g", "h", "e"],
            "user_id": [2, 2, 2],
            "event_id": [10, 10, 12],
            "type": ["click"] * 3,
            "timestamp": [datetime(2026, 3, 3, 12, tzinfo=UTC)] * 3,
            "source": ["app"] * 3,
            "context": ['{"page": "search"}', "not-an-object", None],
        }
    ).write_parquet(day2 / "part-0001.parquet")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE raw.interactions, raw.users, raw.events, raw.quarantine, raw.landed_files"
        )
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def thresholds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shares that let these (very) bad files warn without blocking."""
    monkeypatch.setenv("QUARANTINE_WARN_SHARE", "0.05")
    monkeypatch.setenv("QUARANTINE_BLOCK_SHARE", "0.9")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _backfill(*extra: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
    """Load the feeds, then both days in one run, as a single-run backfill does."""
    from pipelines.ingest import assets

    feeds = dg.materialize([assets.raw_users, assets.raw_events], raise_on_error=False)
    assert len(feeds.get_asset_materialization_events()) == 2
    return dg.materialize(
        [assets.raw_interactions, *extra],
        tags={
            "dagster/asset_partition_range_start": DAY1,
            "dagster/asset_partition_range_end": DAY2,
        },
        raise_on_error=False,
    )


def _partition_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key == dg.AssetKey(["raw", "interactions"]):
            found[materialization.partition] = {
                k: v.value for k, v in materialization.metadata.items()
            }
    return found


def test_refused_values_are_quarantined_and_the_rest_loads(
    landing: Path, database_url: str, thresholds: None
) -> None:
    result = _backfill()
    assert result.success

    with psycopg.connect(database_url) as conn:
        loaded = conn.execute(
            "SELECT occurred_at::date::text, interaction_id, context FROM raw.interactions "
            "ORDER BY 1, 2"
        ).fetchall()
        quarantine = conn.execute(
            "SELECT dataset, partition_key, source_file, line, reason FROM raw.quarantine "
            "ORDER BY dataset, source_file, line"
        ).fetchall()
        ledger = conn.execute(
            "SELECT path, rows_read, rows_loaded, rows_quarantined, rows_duplicate "
            "FROM raw.landed_files ORDER BY path"
        ).fetchall()
    assert [(day, iid) for day, iid, _ in loaded] == [
        (DAY1, "a"),
        (DAY1, "b"),
        (DAY1, "c"),
        (DAY1, "d"),
        (DAY2, "e"),
        (DAY2, "f2"),
        (DAY2, "g"),
    ]
    contexts = {iid: context for _, iid, context in loaded}
    assert contexts["c"] == {"q": 'say "hi" \\ \n'}
    assert contexts["d"] is None
    assert contexts["g"] == {"page": "search"}

    by_file = {}
    for dataset, partition, source, line, reason in quarantine:
        by_file.setdefault((dataset, partition, Path(source).name), []).append((line, reason))
    assert by_file == {
        ("events", "", "events.csv"): [(3, "capacity is not an integer: '12.5'")],
        ("users", "", "users.csv"): [
            (4, "malformed CSV record: 4 fields where the header has 10"),
            (5, "malformed CSV record (unexpected end of data)"),
        ],
        ("interactions", DAY1, "part-0000.jsonl"): DAY1_REASONS,
        ("interactions", DAY2, "part-0000.jsonl"): [
            (2, "timestamp is out of range: '0000-03-03T10:00:00Z'"),
            (3, "not a valid JSON object (malformed or truncated line)"),
        ],
        ("interactions", DAY2, "part-0001.parquet"): [
            (2, "context is not a JSON object: 'not-an-object'"),
        ],
    }

    # read = loaded + quarantined + duplicates, per file ...
    files = {str(Path(p).relative_to(landing)): counts for p, *counts in ledger}
    assert files == {
        "users/users.csv": [4, 2, 2, 0],
        "events/events.csv": [4, 3, 1, 0],
        f"interactions/date={DAY1}/part-0000.jsonl": [14, 4, 9, 1],
        f"interactions/date={DAY2}/part-0000.jsonl": [4, 2, 2, 0],
        f"interactions/date={DAY2}/part-0001.parquet": [3, 1, 1, 1],
    }
    # ... and per partition, each day with its own counts rather than the run's totals.
    partitions = _partition_metadata(result)
    counts = ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")
    assert {day: [m[c] for c in counts] for day, m in partitions.items()} == {
        DAY1: [14, 4, 9, 1],
        DAY2: [7, 3, 3, 1],
    }
    assert partitions[DAY2]["quarantine_reasons"] == {
        "timestamp is out of range: '0000-03-03T10:00:00Z'": 1,
        "not a valid JSON object (malformed or truncated line)": 1,
        "context is not a JSON object: 'not-an-object'": 1,
    }
    assert partitions[DAY1]["days_in_run"] == 2

    (rate,) = result.get_asset_check_evaluations()
    assert (rate.passed, rate.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert rate.metadata["rows_read"].value == 21
    assert rate.metadata["rows_quarantined"].value == 12
    assert rate.metadata["quarantined_share_per_partition"].value == {
        DAY1: round(9 / 14, 6),
        DAY2: round(3 / 7, 6),
    }
    examples = rate.metadata["examples"].value
    assert [(e["line"], e["reason"]) for e in examples[:9]] == DAY1_REASONS


def test_a_quarantine_rate_above_the_block_share_stops_the_marts(
    landing: Path, database_url: str
) -> None:
    from pipelines.ingest.assets import RAW_INTERACTIONS, interaction_partitions

    @dg.asset(deps=[RAW_INTERACTIONS], partitions_def=interaction_partitions)
    def downstream_mart() -> None:
        """Stands for the marts: it must not run on a blocked load."""

    result = _backfill(downstream_mart)

    assert not result.success
    (rate,) = result.get_asset_check_evaluations()
    assert (rate.passed, rate.severity) == (False, dg.AssetCheckSeverity.ERROR)
    # The load itself is kept (its rows and quarantine are what the data engineer looks at).
    assert set(_partition_metadata(result)) == {DAY1, DAY2}
    # Only the load materialised: the mart downstream of its blocking check did not run.
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {RAW_INTERACTIONS}
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM raw.interactions").fetchone() == (7,)
