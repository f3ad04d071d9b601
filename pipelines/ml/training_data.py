"""Training data out of the feature marts, in the column conventions of the ``models`` library."""

from __future__ import annotations

import io

import polars as pl
import psycopg
from psycopg import sql

INTERACTIONS_QUERY = """
SELECT user_id, event_id AS item_id, weight, first_interaction_at AS timestamp
FROM marts.ml_training_interactions
"""
ITEMS_QUERY = """
SELECT event_id AS item_id, title, description, category, tags, city, lat, lng,
       price::double precision AS price, starts_at, status, organizer_id, series_id, venue_id,
       created_at
FROM marts.ml_event_features
"""
USERS_QUERY = """
SELECT user_id, home_city, home_lat, home_lng, interests FROM marts.ml_user_features
"""


def query_frame(conn: psycopg.Connection, query: str) -> pl.DataFrame:
    """Stream a query's rows out with COPY (CSV) into Polars: much faster than fetching tuples."""
    buffer = io.BytesIO()
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(sql.SQL(query))
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if buffer.getbuffer().nbytes == 0:
        return pl.DataFrame()
    return pl.read_csv(buffer, try_parse_dates=True, infer_schema_length=10_000)


def parse_text_array(column: str) -> pl.Expr:
    """PostgreSQL ``text[]`` as exported to CSV (``{a,b}``) into a Polars list of strings."""
    inner = pl.col(column).cast(pl.String).str.strip_prefix("{").str.strip_suffix("}")
    return (
        pl.when(inner.is_null() | (inner == ""))
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(inner.str.replace_all('"', "").str.split(","))
        .alias(column)
    )


def _utc(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(
        pl.col(c).cast(pl.Datetime("us", "UTC"))
        if frame.schema[c] != pl.String
        else pl.col(c).str.to_datetime(time_zone="UTC")
        for c in present
    )


def load_training_data(
    conn: psycopg.Connection,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(interactions, items, users) frames for ``models`` from the ``marts.ml_*`` tables."""
    interactions = _utc(query_frame(conn, INTERACTIONS_QUERY), "timestamp").with_columns(
        pl.col("user_id").cast(pl.Int64),
        pl.col("item_id").cast(pl.Int64),
        pl.col("weight").cast(pl.Float64),
    )
    items = _utc(query_frame(conn, ITEMS_QUERY), "starts_at", "created_at").with_columns(
        pl.col("item_id").cast(pl.Int64),
        parse_text_array("tags"),
        pl.col("description").cast(pl.String).fill_null(""),
        # CSV leaves the types to inference: an all-null column would come back as String.
        pl.col("category", "city").cast(pl.String),
        pl.col("organizer_id", "venue_id").cast(pl.Int64),
        pl.col("series_id").cast(pl.String),
    )
    users = query_frame(conn, USERS_QUERY).with_columns(
        pl.col("user_id").cast(pl.Int64), parse_text_array("interests")
    )
    return interactions, items, users
