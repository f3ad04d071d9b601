"""Bulk loading of Polars frames into PostgreSQL with COPY, shared by every domain that writes.

A text (CSV) COPY for any frame, and a binary COPY, encoded with vectorised kernels, for the big
frames of text, bigint and timestamptz columns. Transaction control stays with the caller.
"""

from __future__ import annotations

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
