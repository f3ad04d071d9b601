"""Loading the recommendation widget's landed logs into ``raw.recommendation_feedback``.

Incremental by file: only files the ledger has not seen as they are now are read. Rows are
validated against the contract (bad rows quarantined under their file), and a row whose id is
already in the table (sent by the API, or in an earlier file) is counted as a duplicate, never
loaded twice. A corrected file replaces the rows its earlier version loaded. One transaction.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg
from psycopg import sql

from core.contracts import FEEDBACK
from pipelines.ingest import loading
from pipelines.ingest.parsing import SOURCE_FILE, ParsedBatch, read_landed_files, validate
from pipelines.kernel.copy import copy_into

_STAGE = "landed_feedback"
_COLUMNS = ("feedback_id", "user_id", "event_id", "model_version", "action", "position")


@dataclass(frozen=True)
class FeedbackLoad:
    """What one load of landed feedback files did: the batch and each file's ledger row."""

    batch: ParsedBatch
    ledger: pl.DataFrame

    def total(self, column: str) -> int:
        return int(self.ledger[column].sum()) if self.ledger.height else 0


def load_feedback_files(
    conn: psycopg.Connection, files: list[Path], known: dict[str, pl.Series], run_id: str
) -> FeedbackLoad:
    """Validate ``files`` and load their good, new rows; quarantine and ledger them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        digests = pool.map(loading.file_sha256, files)
        frame, unknown = read_landed_files(files, FEEDBACK)
        batch = validate(
            frame, FEEDBACK, now=datetime.now(UTC), known_ids=known, unknown_columns=unknown
        )
        hashes = dict(zip([str(p) for p in files], digests, strict=True))
    paths = [str(p) for p in files]
    # One loader at a time: the duplicate count below must see what the insert will see.
    conn.execute("LOCK TABLE raw.recommendation_feedback IN SHARE ROW EXCLUSIVE MODE")
    conn.execute("DELETE FROM raw.recommendation_feedback WHERE _source_file = ANY(%s)", (paths,))
    conn.execute(
        f"""CREATE TEMP TABLE {_STAGE} (feedback_id uuid, user_id bigint, event_id bigint,
                model_version text, action text, position integer, occurred_at timestamptz,
                _source_file text) ON COMMIT DROP"""
    )
    good = batch.good.select(*_COLUMNS, "occurred_at", SOURCE_FILE)
    copy_into(conn, sql.Identifier(_STAGE), good)
    stored = conn.execute(
        f"""SELECT s._source_file, count(*) FROM {_STAGE} AS s
            JOIN raw.recommendation_feedback AS r USING (feedback_id) GROUP BY 1"""
    ).fetchall()
    conn.execute(
        f"""INSERT INTO raw.recommendation_feedback ({", ".join(_COLUMNS)}, occurred_at,
                received_at, _source_file)
            SELECT {", ".join(_COLUMNS)}, occurred_at, now(), _source_file FROM {_STAGE}
            ON CONFLICT (feedback_id) DO NOTHING"""
    )
    already_stored = pl.DataFrame(
        stored, schema={SOURCE_FILE: pl.String, "_stored": pl.Int64}, orient="row"
    )
    counts = loading.per_file_counts(frame, batch, already_stored)
    ledger = counts.select(
        pl.col(SOURCE_FILE).alias("path"),
        pl.col(SOURCE_FILE).replace_strict(hashes, return_dtype=pl.String).alias("sha256"),
        pl.col(SOURCE_FILE)
        .replace_strict({p: Path(p).stat().st_size for p in paths}, return_dtype=pl.Int64)
        .alias("size_bytes"),
        "rows_read",
        "rows_loaded",
        "rows_quarantined",
        "rows_duplicate",
    )
    rejected = batch.rejected.with_columns(pl.col(SOURCE_FILE).alias("partition_key"))
    loading.replace_quarantine(conn, FEEDBACK.name, paths, rejected, run_id)
    loading.record_landed_files(conn, FEEDBACK.name, ledger, run_id)
    return FeedbackLoad(batch, ledger)
