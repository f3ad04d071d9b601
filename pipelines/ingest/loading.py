"""Writing validated batches into ``raw.*``: COPY, atomic partition swaps, quarantine and ledger.

Every function takes an open connection and leaves transaction control to the caller, so that an
asset can make a whole load (rows, quarantine, ledger) one atomic unit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import psycopg
from psycopg import sql

_COPY_CHUNK = 8 << 20


def file_sha256(path: Path) -> str:
    """Content hash of a landed file: the identity of a landing, whatever its name or time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_copy_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Render list columns as PostgreSQL array literals so the frame can be COPY'd as CSV."""
    rendered = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            quoted = pl.col(name).list.eval(
                pl.format('"{}"', pl.element().str.replace_all(r'(["\\])', r"\$1"))
            )
            literal = pl.concat_str([pl.lit("{"), quoted.list.join(","), pl.lit("}")])
            rendered.append(literal.fill_null("{}").alias(name))
    return frame.with_columns(rendered) if rendered else frame


def copy_into(conn: psycopg.Connection, table: sql.Composable, frame: pl.DataFrame) -> int:
    """Bulk-load ``frame`` into ``table`` with COPY (CSV); columns are matched by name."""
    if frame.is_empty():
        return 0
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    payload = to_copy_frame(frame).write_csv(
        include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z", null_value=""
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, NULL '')").format(table, columns)
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        data = payload.encode()
        for start in range(0, len(data), _COPY_CHUNK):
            copy.write(data[start : start + _COPY_CHUNK])
    return frame.height


def partition_name(day: date) -> str:
    return f"interactions_{day:%Y%m%d}"


def swap_interactions_partition(
    conn: psycopg.Connection, day: date, rows: pl.DataFrame, keep_sources: tuple[str, ...]
) -> int:
    """Replace the day's partition of ``raw.interactions`` by ``rows`` in the caller's transaction.

    The new partition is built beside the live one and swapped in by detach/attach, so readers see
    the old day or the new day, never a mix; rows of the old partition whose ``_source_file`` is in
    ``keep_sources`` (those synced from the API rather than landed) are carried over.
    """
    name = partition_name(day)
    staging = f"{name}_next"
    low, high = day.isoformat(), (day + timedelta(days=1)).isoformat()
    ident, staging_ident = sql.Identifier("raw", name), sql.Identifier("raw", staging)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging_ident))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE raw.interactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        ).format(staging_ident)
    )
    loaded = copy_into(conn, staging_ident, rows)
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
    # A matching CHECK lets ATTACH skip its validation scan of the whole partition.
    conn.execute(
        sql.SQL(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK (occurred_at >= {} AND occurred_at < {})"
        ).format(
            staging_ident,
            sql.Identifier(f"{name}_range"),
            sql.Literal(f"{low} 00:00+00"),
            sql.Literal(f"{high} 00:00+00"),
        )
    )
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging_ident, sql.Identifier(name)))
    attach = "ALTER TABLE raw.interactions ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})"
    conn.execute(
        sql.SQL(attach).format(
            ident, sql.Literal(f"{low} 00:00+00"), sql.Literal(f"{high} 00:00+00")
        )
    )
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
    frame = rejected.select(
        pl.lit(dataset).alias("dataset"),
        pl.col("_source_file").alias("source_file"),
        pl.col("_line").alias("line"),
        pl.col("reason"),
        pl.col("_record").alias("record"),
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
