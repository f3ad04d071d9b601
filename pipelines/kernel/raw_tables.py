"""Reads of ``raw.*`` that ingest and the quality checks both need."""

import polars as pl
from psycopg import sql

from core.db import connect


def known_ids(table: str, column: str) -> pl.Series:
    """Every id in ``raw.<table>.<column>``: what a loaded reference must point at."""
    query = sql.SQL("SELECT coalesce(array_agg({}), '{{}}') FROM {}").format(
        sql.Identifier(column), sql.Identifier("raw", table)
    )
    with connect() as conn:
        row = conn.execute(query).fetchone()
    return pl.Series(column, row[0] if row else [], dtype=pl.Int64)
