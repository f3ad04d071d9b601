"""Test session wiring: a private embedded PostgreSQL and private local state.

The suite never touches the server or the ``data/`` folder of ``make run``: before anything reads
the settings, every location is pointed into a temporary folder and the server gets its own port.
Integration tests ask for the ``database_url`` fixture, which starts the server on first use and
applies the migrations; the server is stopped when the session ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

_STATE_DIR = Path(tempfile.mkdtemp(prefix="events-platform-tests-"))


_PG_PORT = free_port()
_TEST_DATABASE_URL = f"postgresql://postgres@127.0.0.1:{_PG_PORT}/events"

# Set at import time, before any test module imports the settings.
os.environ.update(
    {
        "DATA_DIR": str(_STATE_DIR / "data"),
        "EMBEDDED_PG_DIR": str(_STATE_DIR / "pg"),
        "EMBEDDED_PG_PORT": str(_PG_PORT),
        "DATABASE_URL": _TEST_DATABASE_URL,
        "MLFLOW_TRACKING_URI": f"postgresql+psycopg2://postgres@127.0.0.1:{_PG_PORT}/mlflow",
        "MLFLOW_ARTIFACTS_DIR": str(_STATE_DIR / "data" / "mlartifacts"),
        "DAGSTER_HOME": str(_STATE_DIR / "dagster_home"),
        "JWT_SECRET": "test-secret-not-for-production-0123456789abcdef",
        "SERVICE_TOKEN": "test-service-token",
    }
)
os.environ.pop("MLFLOW_TRACKING_URI_OVERRIDE", None)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of the test database: a private embedded PostgreSQL with every migration applied."""
    import psycopg
    from psycopg import sql

    from core import migrate, pgserver
    from core.db import ensure_databases
    from core.settings import APP_DATABASE, get_settings

    get_settings.cache_clear()
    settings = get_settings()
    pgserver.start(settings.pg_dir, _PG_PORT, for_tests=True)
    try:
        # DATABASE_URL is set (to this server), so the application database is not created for
        # us as it is for the embedded default: make it here.
        with psycopg.connect(settings.maintenance_database_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(APP_DATABASE)))
        ensure_databases(settings)
        migrate.apply(settings.app_database_url)
        yield settings.app_database_url
    finally:
        pgserver.stop(settings.pg_dir)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests and fixtures run on asyncio (the server's loop)."""
    return "asyncio"


@pytest.fixture(scope="session")
def state_dir() -> Path:
    """The session's private folder for local state (landing zone, MLflow artifacts, ...)."""
    return _STATE_DIR


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_STATE_DIR, ignore_errors=True)
