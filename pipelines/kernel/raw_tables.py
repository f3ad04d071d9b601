"""Reads of ``raw.*`` that ingest and the quality checks both need."""

import polars as pl
from psycopg import sql

from core.db import connect


def known_ids(table: str, column: str, role: str | None = None) -> pl.Series:
    """Every id in ``raw.<table>.<column>`` (of rows with that ``role``, if given): what a loaded
    reference must point at."""
    query = sql.SQL("SELECT coalesce(array_agg({}), '{{}}') FROM {} {}").format(
        sql.Identifier(column),
        sql.Identifier("raw", table),
        sql.SQL("WHERE role = {}").format(role) if role is not None else sql.SQL(""),
    )
    with connect() as conn:
        row = conn.execute(query).fetchone()
    return pl.Series(column, row[0] if row else [], dtype=pl.Int64)


def known_users_and_events() -> dict[str, pl.Series]:
    """The ``known_ids`` of a row that names a user and an event."""
    return {
        "user_id": known_ids("users", "user_id"),
        "event_id": known_ids("events", "event_id"),
    }
