"""Writing validated batches into ``raw.*``: COPY, atomic partition swaps, quarantine and ledger.

Every function takes an open connection and leaves transaction control to the caller, so that an
asset can make a whole load (rows, quarantine, ledger) one atomic unit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import psycopg
from psycopg import sql

from pipelines.ingest.landing import LedgerEntry
from pipelines.ingest.parsing import ParsedBatch
from pipelines.kernel.copy import copy_binary, copy_into

_INDEX_BUILD_MEMORY = "1GB"


def file_sha256(path: Path) -> str:
    """Content hash of a landed file: the identity of a landing, whatever its name or time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key_order(frame: pl.DataFrame) -> pl.Series:
    """Row positions of an interactions frame in primary-key order (``interaction_id``, then
    ``occurred_at``), comparing text byte by byte.

    Byte order is the order of the server's ``C.UTF-8`` collation, so an index built on rows
    sent in this order finds them sorted, which at 5 M rows makes it several times faster. (Under
    another collation the rows are merely less sorted; nothing else depends on the order.) DuckDB
    sorts the key columns, read from Arrow without a copy, in a few seconds where Polars' string
    sort of the same keys takes several times longer.
    """
    keys = frame.select("interaction_id", "occurred_at").with_row_index("position").to_arrow()
    with duckdb.connect() as con:
        con.register("keys", keys)
        ordered = con.sql("SELECT position FROM keys ORDER BY interaction_id, occurred_at")
        return ordered.pl()["position"]


def partition_name(day: date) -> str:
    return f"interactions_{day:%Y%m%d}"


def swap_interactions_partition(
    conn: psycopg.Connection, day: date, rows: pl.DataFrame, keep_sources: tuple[str, ...]
) -> int:
    """Replace the day's partition of ``raw.interactions`` by ``rows`` in the caller's transaction.

    The new partition is built beside the live one and swapped in by detach/attach, so readers see
    the old day or the new day, never a mix; rows of the old partition whose ``_source_file`` is in
    ``keep_sources`` (those synced from the API rather than landed) are carried over.

    The build is shaped for bulk loading: the table is created in this transaction, so its rows
    are COPY'd (binary) already frozen and, with ``wal_level=minimal``, without WAL; the day's
    range CHECK is declared up front, so rows are checked as they arrive rather than by a scan,
    and it lets ATTACH skip its own validation scan; the rows are sent in key order and the
    primary key is built once at the end, from already sorted rows.
    """
    name = partition_name(day)
    staging = f"{name}_next"
    low, high = (
        sql.Literal(f"{day.isoformat()} 00:00+00"),
        sql.Literal(f"{(day + timedelta(days=1)).isoformat()} 00:00+00"),
    )
    ident, staging_ident = sql.Identifier("raw", name), sql.Identifier("raw", staging)
    # The primary key's sort of a 5 M-row day fits in memory with this (it is shared by the
    # parallel workers of the build); the setting ends with the transaction.
    conn.execute(f"SET LOCAL maintenance_work_mem = '{_INDEX_BUILD_MEMORY}'")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging_ident))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE raw.interactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
            "CONSTRAINT {} CHECK (occurred_at >= {} AND occurred_at < {}))"
        ).format(staging_ident, sql.Identifier(f"{name}_range"), low, high)
    )
    loaded = copy_binary(
        conn, staging_ident, rows, jsonb=("context",), freeze=True, order=key_order(rows)
    )
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"raw.{name}",)).fetchone()
    if exists and exists[0]:
        if keep_sources:
            conn.execute(
                sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE _source_file = ANY(%s)").format(
                    staging_ident, ident
                ),
                (list(keep_sources),),
            )
        conn.execute(sql.SQL("ALTER TABLE raw.interactions DETACH PARTITION {}").format(ident))
        conn.execute(sql.SQL("DROP TABLE {}").format(ident))
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (interaction_id, occurred_at)").format(
            staging_ident
        )
    )
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging_ident, sql.Identifier(name)))
    attach = "ALTER TABLE raw.interactions ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})"
    conn.execute(sql.SQL(attach).format(ident, low, high))
    return loaded


def ensure_interactions_partitions(conn: psycopg.Connection, days: list[date]) -> None:
    """Create empty day partitions of ``raw.interactions`` for ``days`` that lack one."""
    for day in days:
        name = partition_name(day)
        low, high = day.isoformat(), (day + timedelta(days=1)).isoformat()
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF raw.interactions "
                "FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier("raw", name),
                sql.Literal(f"{low} 00:00+00"),
                sql.Literal(f"{high} 00:00+00"),
            )
        )


def replace_quarantine(
    conn: psycopg.Connection,
    dataset: str,
    partition_keys: Sequence[str],
    rejected: pl.DataFrame,
    run_id: str,
) -> int:
    """Make ``rejected`` the quarantine of the dataset's partitions: a re-run replaces, never adds.

    ``rejected`` carries its partition in a ``partition_key`` column, or belongs to the single
    partition given when it has none.
    """
    conn.execute(
        "DELETE FROM raw.quarantine WHERE dataset = %s AND partition_key = ANY(%s)",
        (dataset, list(partition_keys)),
    )
    partition = (
        pl.col("partition_key")
        if "partition_key" in rejected.columns
        else pl.lit(partition_keys[0])
    )
    # A NUL cannot be stored in text; the quarantine shows it as the JSON escape it came as.
    printable = {"reason": pl.col("reason"), "record": pl.col("_record")}
    frame = rejected.select(
        pl.lit(dataset).alias("dataset"),
        pl.col("_source_file").alias("source_file"),
        pl.col("_line").alias("line"),
        *[
            v.str.replace_all("\x00", "\\u0000", literal=True).alias(k)
            for k, v in printable.items()
        ],
        pl.lit(run_id).alias("run_id"),
        partition.alias("partition_key"),
    )
    return copy_into(conn, sql.Identifier("raw", "quarantine"), frame)


def record_landed_files(
    conn: psycopg.Connection, dataset: str, files: pl.DataFrame, run_id: str
) -> None:
    """Upsert the ledger rows (path, sha256, size and per-file counts) of the files just loaded."""
    for row in files.iter_rows(named=True):
        conn.execute(
            """INSERT INTO raw.landed_files (path, sha256, dataset, size_bytes, rows_read,
                   rows_loaded, rows_quarantined, rows_duplicate, run_id)
               VALUES (%(path)s, %(sha256)s, %(dataset)s, %(size_bytes)s, %(rows_read)s,
                   %(rows_loaded)s, %(rows_quarantined)s, %(rows_duplicate)s, %(run_id)s)
               ON CONFLICT (dataset, sha256) DO UPDATE SET path = excluded.path,
                   rows_read = excluded.rows_read, rows_loaded = excluded.rows_loaded,
                   rows_quarantined = excluded.rows_quarantined,
                   rows_duplicate = excluded.rows_duplicate, run_id = excluded.run_id,
                   loaded_at = now()""",
            {**row, "dataset": dataset, "run_id": run_id},
        )


def read_ledger(conn: psycopg.Connection, dataset: str | None = None) -> dict[str, LedgerEntry]:
    """The ledger's view of every loaded path (of ``dataset``, default all)."""
    rows = conn.execute(
        "SELECT path, size_bytes, loaded_at FROM raw.landed_files"
        " WHERE %(dataset)s::text IS NULL OR dataset = %(dataset)s",
        {"dataset": dataset},
    ).fetchall()
    return {path: LedgerEntry(size, loaded_at) for path, size, loaded_at in rows}


def per_file_counts(
    read: pl.DataFrame, batch: ParsedBatch, stored: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Each file's ledger counts: read, loaded, quarantined and duplicates.

    Duplicates are the rows neither loaded nor quarantined (a key repeated within the batch), and
    the rows ``stored`` names per file (``_source_file``, ``_stored``): valid, but their key was
    already in the table.
    """
    counts = (
        read.group_by("_source_file")
        .agg(pl.len().alias("rows_read"))
        .join(
            batch.good.group_by("_source_file").agg(pl.len().alias("_valid")),
            on="_source_file",
            how="left",
        )
        .join(
            batch.rejected.group_by("_source_file").agg(pl.len().alias("rows_quarantined")),
            on="_source_file",
            how="left",
        )
    )
    if stored is not None:
        counts = counts.join(stored, on="_source_file", how="left")
    else:
        counts = counts.with_columns(pl.lit(0, dtype=pl.Int64).alias("_stored"))
    counts = counts.fill_null(0)
    return counts.select(
        "_source_file",
        "rows_read",
        (pl.col("_valid") - pl.col("_stored")).alias("rows_loaded"),
        "rows_quarantined",
        (
            pl.col("rows_read") - pl.col("_valid") - pl.col("rows_quarantined") + pl.col("_stored")
        ).alias("rows_duplicate"),
    )
