"""``raw/quarantine`` materialises what the loads rejected: counts per dataset, the latest rows."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from pipelines.ingest.quarantine_table import PREVIEW_ROWS, RECORD_CHARS, raw_quarantine

pytestmark = pytest.mark.integration


@pytest.fixture
def rejected(database_url: str):
    rows = [
        ("events", "events/feed_a.csv", 7, "unbalanced quote", "x" * 500, "2026-03-01 10:00Z"),
        (
            "interactions",
            "interactions/2026-03-01/a.jsonl",
            3,
            "context: not an object",
            '{"context":"no"}',
            "2026-03-01 11:00Z",
        ),
    ]
    rows += [
        (
            "interactions",
            "interactions/2026-03-01/b.jsonl",
            n,
            "event_id: not an integer",
            '{"event_id":12.5}',
            f"2026-03-01 09:{n:02d}Z",
        )
        for n in range(PREVIEW_ROWS + 5)
    ]
    columns = "dataset, source_file, line, reason, record, run_id, partition_key, quarantined_at"
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Other tests' rejected rows are put back afterwards; this test needs the table alone.
        kept = conn.execute(f"SELECT {columns} FROM raw.quarantine").fetchall()
        conn.execute("DELETE FROM raw.quarantine")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO raw.quarantine (dataset, source_file, line, reason, record,"
                " quarantined_at) VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
    yield rows
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM raw.quarantine")
        cur.executemany(
            f"INSERT INTO raw.quarantine ({columns}) VALUES ({', '.join(['%s'] * 8)})", kept
        )


def test_the_materialisation_counts_and_previews_the_rejected_rows(rejected) -> None:
    result = dg.materialize([raw_quarantine])
    (materialization,) = result.asset_materializations_for_node(raw_quarantine.op.name)
    metadata = materialization.metadata
    assert metadata["dagster/row_count"].value == len(rejected)
    assert metadata["rows_by_dataset"].value == {"events": 1, "interactions": PREVIEW_ROWS + 6}
    preview = metadata["latest_rejected"].value
    assert len(preview.records) == PREVIEW_ROWS
    newest = preview.records[0].data
    assert (newest["dataset"], newest["line"], newest["reason"]) == (
        "interactions",
        3,
        "context: not an object",
    )
    assert newest["quarantined_at"] == "2026-03-01T11:00:00Z"
    events_row = preview.records[1].data
    assert len(events_row["record"]) == RECORD_CHARS
