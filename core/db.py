"""Synchronous database access for batch code (pipelines, migrations, tests).

The API has its own async pool (``serving.db``); both take their URL from :mod:`core.settings`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from core.settings import (
    APP_DATABASE,
    DAGSTER_DATABASE,
    MLFLOW_DATABASE,
    Settings,
    get_settings,
    with_database,
)


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection to the application database (or ``url``), committed on success."""
    with psycopg.connect(url or get_settings().app_database_url, autocommit=autocommit) as conn:
        yield conn


def ensure_databases(settings: Settings | None = None) -> None:
    """Create the application, Dagster and MLflow databases when the server lacks them.

    With an external ``DATABASE_URL`` the application database must exist already; the other two
    are created beside it when the role may do so.
    """
    settings = settings or get_settings()
    wanted = [DAGSTER_DATABASE, MLFLOW_DATABASE]
    if settings.uses_embedded_postgres:
        wanted.insert(0, APP_DATABASE)
    with connect(settings.maintenance_database_url, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in wanted:
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url(settings: Settings, database: str) -> str:
    """libpq URL of another database on the application's server."""
    return with_database(settings.app_database_url, database)
