"""The read-only ``analyst`` role: it reads the marts and nothing in app, raw or staging.

The role and its grants come from migration 0010; the grants dbt adds on each mart it builds are
checked in ``test_dbt_marts.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def analyst(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection as the analyst role, with a table in marts and one in staging to read."""
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("create schema if not exists staging")
        for table in ("marts.analyst_role_probe", "staging.analyst_role_probe"):
            owner.execute(f"drop table if exists {table}")
            owner.execute(f"create table {table} as select 42 as answer")
    try:
        with psycopg.connect(
            Settings(database_url=database_url).analyst_database_url, autocommit=True
        ) as conn:
            yield conn
    finally:
        with psycopg.connect(database_url, autocommit=True) as owner:
            owner.execute("drop table marts.analyst_role_probe, staging.analyst_role_probe")


def test_analyst_logs_in_and_reads_a_mart_created_after_the_migration(
    analyst: psycopg.Connection,
) -> None:
    assert analyst.execute("select current_user").fetchone() == ("analyst",)
    assert analyst.execute("select answer from marts.analyst_role_probe").fetchone() == (42,)


@pytest.mark.parametrize(
    "table",
    ["app.users", "app.events", "raw.users", "raw.interactions", "staging.analyst_role_probe"],
)
def test_analyst_cannot_read_operational_raw_or_staging_data(
    analyst: psycopg.Connection, table: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        analyst.execute(f"select 1 from {table} limit 1")


def test_analyst_cannot_write_to_the_marts(analyst: psycopg.Connection) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        analyst.execute("delete from marts.analyst_role_probe")
    with pytest.raises(errors.InsufficientPrivilege):
        analyst.execute("create table marts.scratch (id int)")
