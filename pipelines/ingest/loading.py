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
import numpy as np
import polars as pl
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

_COPY_CHUNK = 8 << 20
# Rows encoded per binary COPY slice: bounds the memory of one encoded slice (~50 MB).
_BINARY_SLICE_ROWS = 250_000
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_BINARY_TRAILER = b"\xff\xff"
_JSONB_VERSION = 1
# PostgreSQL's timestamps count microseconds from 2000-01-01 UTC, not from the Unix epoch.
_PG_EPOCH_US = 946_684_800_000_000
_INDEX_BUILD_MEMORY = "1GB"


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


def _fixed_width(block: np.ndarray) -> pa.Array:
    """Wrap an (n, width) byte matrix as a binary array of n equal values, without copying."""
    rows, width = block.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )


def _field_lengths(values: pa.Array) -> np.ndarray:
    """Big-endian int32 length words of a binary column, ``-1`` (SQL NULL) where null."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    lengths = np.diff(offsets)
    if values.null_count:
        valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False))
        lengths = np.where(valid, lengths, -1)
    return lengths.astype(">i4")


def _binary_slice(frame: pl.DataFrame, jsonb: frozenset[str]) -> memoryview:
    """Encode ``frame`` as the rows of PostgreSQL's binary COPY format, with vectorised kernels.

    The server then neither splits CSV lines nor parses numbers and timestamps from text, which
    is most of the cost of a text COPY. Each row is the field count, then per field its length and
    bytes. Consecutive fixed-width parts (counts, lengths, int8, timestamptz) are laid out in one
    byte matrix; variable parts (text, jsonb) are Arrow binary columns; one element-wise join
    produces the payload.
    """
    rows = frame.height
    pieces: list[pa.Array] = []
    fixed: list[np.ndarray] = [np.full((rows, 1), len(frame.columns), dtype=">i2").view(np.uint8)]

    def flush() -> None:
        if fixed:
            pieces.append(_fixed_width(np.ascontiguousarray(np.hstack(fixed))))
            fixed.clear()

    for name, dtype in frame.schema.items():
        column = frame[name]
        if dtype == pl.String:
            values = column.to_arrow().cast(pa.large_binary())
            lengths = _field_lengths(values)
            # jsonb's binary form is a version byte, then the text: the byte is one more piece of
            # the join rather than a rewrite of every value. A NULL keeps its -1 length and gets
            # no byte (a NULL piece joins as nothing).
            if name in jsonb:
                lengths = np.where(lengths >= 0, lengths + 1, -1).astype(">i4")
            fixed.append(lengths.reshape(rows, 1).view(np.uint8))
            flush()
            if name in jsonb:
                version = _fixed_width(np.full((rows, 1), _JSONB_VERSION, dtype=np.uint8))
                if values.null_count:
                    version = pc.if_else(values.is_valid(), version, pa.nulls(rows, version.type))
                pieces.append(version)
            pieces.append(values)
            continue
        if isinstance(dtype, pl.Datetime):
            column = column.dt.epoch("us") - _PG_EPOCH_US
        word = np.full((rows, 1), 8, dtype=">i4").view(np.uint8)
        value = column.cast(pl.Int64).to_numpy().astype(">i8").reshape(rows, 1).view(np.uint8)
        fixed.extend((word, value))
    flush()
    joined = pc.binary_join_element_wise(
        *pieces, pa.scalar(b"", pa.large_binary()), null_handling="replace", null_replacement=""
    )
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)
    start, end = int(offsets[joined.offset]), int(offsets[joined.offset + rows])
    return memoryview(joined.buffers()[2])[start:end]


def binary_copy_supported(frame: pl.DataFrame) -> bool:
    """Whether ``copy_binary`` can encode ``frame``: text, bigint, timestamptz; no NULL numbers."""
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            continue
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            pass
        elif dtype != pl.Int64:
            return False
        if frame[name].null_count():
            return False
    return True


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


def copy_binary(
    conn: psycopg.Connection,
    table: sql.Composable,
    frame: pl.DataFrame,
    *,
    jsonb: tuple[str, ...] = (),
    freeze: bool = False,
    order: pl.Series | None = None,
) -> int:
    """Bulk-load ``frame`` into ``table`` with a binary COPY; columns are matched by name.

    String columns go to text columns (or to jsonb ones when named in ``jsonb``: their text must
    be JSON), Int64 to bigint and timezone-aware Datetime to timestamptz; frames with other types
    or NULL numbers go through ``copy_into`` instead. ``freeze`` writes the rows already frozen,
    which PostgreSQL allows only into a table created or truncated in the same transaction.
    ``order`` (row positions, e.g. from ``key_order``) is the order the rows are sent in; each
    slice is gathered just before it is encoded, so the frame is never copied whole.
    """
    if frame.is_empty():
        return 0
    if not binary_copy_supported(frame):
        return copy_into(conn, table, frame if order is None else frame[order])
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    options = sql.SQL("FORMAT binary, FREEZE" if freeze else "FORMAT binary")
    statement = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(table, columns, options)
    names = frozenset(jsonb)
    if order is not None:
        # Gathering from one chunk per column is several times faster than from many (a no-op
        # for a frame already in one chunk, as the parsed batches are).
        frame = frame.rechunk()
    # A writer thread sends each encoded slice while the next one is encoded (both release the
    # GIL), so the encoding overlaps the server's work instead of adding to it.
    with conn.cursor() as cursor, cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(_BINARY_HEADER)
        for offset in range(0, frame.height, _BINARY_SLICE_ROWS):
            if order is None:
                rows = frame.slice(offset, _BINARY_SLICE_ROWS)
            else:
                rows = frame[order.slice(offset, _BINARY_SLICE_ROWS)]
            payload = _binary_slice(rows, names)
            for start in range(0, len(payload), _COPY_CHUNK):
                copy.write(payload[start : start + _COPY_CHUNK])
        copy.write(_BINARY_TRAILER)
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
