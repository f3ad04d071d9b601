"""Daily incremental runs give exactly the marts a full rebuild gives on the same data.

The hand-made data set is built in full, then two days land and each gets the daily run the
Dagster assets make (``fct_interactions`` for the day's partition, then the marts). The second
day's batch is made of the awkward cases: an interaction re-delivered under another user and
day (its old pair and its old day lose their only interaction), a registration that became
attended and one deleted through the API. Every table and view in ``marts`` must then hold what
``dbt build --full-refresh`` computes from scratch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import marts_dataset as ds
import psycopg
import pytest

from pipelines.transform.project import partition_env

pytestmark = pytest.mark.integration

AS_OF = "2021-06-20T00:00:00+00:00"
BUILD_VARS = {"popularity_as_of": AS_OF}
# Columns that record when a row was computed, not what it holds.
BOOKKEEPING = {"transformed_at", "interactions_watermark"}

DAY_ONE = [
    ("mt-201", ds.EVE, ds.JAZZ, "view", "2021-06-16 09:00Z", "web", None),
    ("mt-202", ds.EVE, ds.JAZZ, "click", "2021-06-16 09:05Z", "web", None),
    ("mt-203", ds.BOB, ds.FOOD_FAIR, "view", "2021-06-16 10:00Z", "recommendation", ds.MODEL_ALS),
    ("mt-204", ds.DAVE, ds.MEETUP, "dismiss", "2021-06-16 11:00Z", "web", None),
]
DAY_TWO = [
    ("mt-301", ds.ALICE, ds.FOOD_FAIR, "favorite", "2021-06-17 08:00Z", "app", None),
    # Carol's only interaction with the pitch (and the only one of 12 June), re-delivered as
    # Dave's on 17 June.
    ("mt-019", ds.DAVE, ds.API_PITCH, "view", "2021-06-17 09:00Z", "web", None),
]


def daily_run(day: str, next_day: str) -> None:
    """What the Dagster assets run for one new daily partition."""
    build = ("build", "--indirect-selection", "buildable", "--vars", json.dumps(BUILD_VARS))
    ds.run_dbt(*build, "--select", "fct_interactions", env=partition_env(day, next_day))
    ds.run_dbt(
        *build,
        "--select",
        "path:models/marts",
        "--exclude",
        "fct_interactions",
    )


def marts_contents(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every relation of ``marts`` (bookkeeping columns left out), rows sorted; floats rounded
    to 9 significant digits, as sums may add up in another order."""
    contents = {}
    relations = conn.execute(
        "select table_name from information_schema.tables"
        " where table_schema = 'marts' and table_name <> 'fct_interactions_replaced'"
        " order by table_name"
    ).fetchall()
    for (table,) in relations:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'marts' and table_name = %s order by ordinal_position",
                (table,),
            ).fetchall()
            if name not in BOOKKEEPING
        ]
        select = ", ".join(f'"{name}"' for name in columns)
        rows = conn.execute(f'select {select} from marts."{table}"').fetchall()
        contents[table] = sorted(
            (tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in row) for row in rows),
            key=repr,
        )
    return contents


@pytest.fixture(scope="module")
def built(database_url: str) -> Iterator[str]:
    ds.load(database_url)
    ds.run_dbt("build", "--full-refresh", "--vars", json.dumps(BUILD_VARS))
    yield database_url
    ds.unload(database_url)
    ds.rebuild_marts()


def test_daily_runs_give_the_marts_of_a_full_rebuild(built: str) -> None:
    with psycopg.connect(built) as conn:
        ds.insert_interactions(conn, DAY_ONE)
    daily_run("2021-06-16", "2021-06-17")
    with psycopg.connect(built) as conn:
        ds.insert_interactions(conn, DAY_TWO)
        conn.execute(
            "update raw.registrations set status = 'attended' where registration_id = 930002"
        )
        conn.execute("delete from raw.registrations where registration_id = 930010")
    daily_run("2021-06-17", "2021-06-18")

    with psycopg.connect(built, autocommit=True) as conn:
        incremental = marts_contents(conn)
        moved = conn.execute(
            "select count(*) from marts.fct_user_event_activity where user_id = %s"
            " and event_id = %s",
            (ds.CAROL, ds.API_PITCH),
        ).fetchone()
        ds.run_dbt("build", "--full-refresh", "--vars", json.dumps(BUILD_VARS))
        rebuilt = marts_contents(conn)

    assert moved == (0,)  # the pair lost its only interaction and has no registration
    assert len(incremental["fct_interactions"]) == 25
    assert incremental.keys() == rebuilt.keys()
    for table in rebuilt:
        assert incremental[table] == rebuilt[table], table
