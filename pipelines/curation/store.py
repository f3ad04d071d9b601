"""Reading landed listings from ``raw.events`` and replacing the ``curation.*`` tables.

Columns the batch code needs but a deployment's ``raw.events`` lacks (an older schema) come
back as nulls of the right type, so that the curation steps never depend on optional columns.
"""

from __future__ import annotations

import polars as pl
import psycopg
from psycopg import sql

from pipelines.ingest.loading import copy_into
from pipelines.ml.training_data import query_frame

LISTING_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.Int64(),
    "title": pl.String(),
    "description": pl.String(),
    "category": pl.String(),
    "starts_at": pl.Datetime("us", "UTC"),
    "venue_name": pl.String(),
    "city": pl.String(),
    "lat": pl.Float64(),
    "lng": pl.Float64(),
    "capacity": pl.Int64(),
    "price": pl.Float64(),
    "currency": pl.String(),
    "organizer_id": pl.Int64(),
    "created_at": pl.Datetime("us", "UTC"),
    "_source": pl.String(),
}


def _cast(column: str, dtype: pl.DataType, frame: pl.DataFrame) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, dtype=dtype).alias(column)
    if isinstance(dtype, pl.Datetime) and frame.schema[column] == pl.String:
        return pl.col(column).str.to_datetime(time_zone="UTC").alias(column)
    return pl.col(column).cast(dtype).alias(column)


def read_listings(conn: psycopg.Connection) -> pl.DataFrame:
    """Every listing in ``raw.events``, in :data:`LISTING_SCHEMA`, ordered by id."""
    present = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'events'"
        )
    }
    wanted = [c for c in LISTING_SCHEMA if c in present]
    query = sql.SQL("SELECT {} FROM raw.events ORDER BY event_id").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in wanted)
    )
    frame = query_frame(conn, query.as_string(conn))
    if frame.width == 0:
        return pl.DataFrame(schema=LISTING_SCHEMA)
    return frame.select(_cast(c, dtype, frame) for c, dtype in LISTING_SCHEMA.items())


def replace_table(conn: psycopg.Connection, table: str, frame: pl.DataFrame) -> int:
    """Replace ``curation.<table>`` with ``frame`` (columns by name); the caller commits."""
    target = sql.Identifier("curation", table)
    conn.execute(sql.SQL("TRUNCATE {}").format(target))
    return copy_into(conn, target, frame)


CLUSTER_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.Int64(),
    "canonical_id": pl.Int64(),
    "is_canonical": pl.Boolean(),
    "match_probability": pl.Float64(),
}


def read_clusters(conn: psycopg.Connection) -> pl.DataFrame:
    """The current ``curation.listing_clusters``, in :data:`CLUSTER_SCHEMA`."""
    frame = query_frame(
        conn,
        "SELECT event_id, canonical_id, is_canonical::int AS is_canonical, match_probability "
        "FROM curation.listing_clusters",
    )
    if frame.width == 0:
        return pl.DataFrame(schema=CLUSTER_SCHEMA)
    return frame.select(pl.col(c).cast(dtype) for c, dtype in CLUSTER_SCHEMA.items())
