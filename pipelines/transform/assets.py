"""dbt models as assets: staging, intermediate and marts, downstream of the ingest assets.

The project is split in three so the big incremental fact can follow the daily partitions of the
interactions: staging and intermediate views (unpartitioned), ``fct_interactions`` (one daily
partition, or a range of them, per run), and the marts built on top (unpartitioned).
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from core.settings import get_settings
from pipelines.kernel.partitions import interaction_partitions
from pipelines.transform.project import (
    PlatformDbtTranslator,
    dbt_project,
    partial_parse_env,
    partition_env,
    scoped_environ,
)

INCREMENTAL_FACT = "fct_interactions"
UPSTREAM_SELECT = "path:models/staging path:models/intermediate path:seeds"


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    *args: str,
    env: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    # dbt reads the connection from these variables (dbt_project/profiles.yml), and starts from
    # the parse prepared with the manifest instead of parsing the project again.
    prepared = dbt_project().manifest_path.parent
    values = {**get_settings().dbt_env(), **partial_parse_env(prepared), **(env or {})}
    # A test over several models runs with the last of them ("buildable"), never before them.
    command = ["build", "--indirect-selection", "buildable", *args]
    with scoped_environ(values):
        # dbt starts here, with the environment of this moment.
        invocation = dbt.cli(command, context=context)
    # Row counts and column types are queried after each model, so the UI shows them per asset.
    yield from invocation.stream().fetch_row_counts().fetch_column_metadata()


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=PlatformDbtTranslator(),
    select=UPSTREAM_SELECT,
    name="dbt_staging",
)
def dbt_staging(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """Staging views over the sources and the intermediate joins, with their tests."""
    yield from _build(context, dbt)


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=PlatformDbtTranslator(),
    select=INCREMENTAL_FACT,
    name="dbt_interactions",
    partitions_def=interaction_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def dbt_interactions(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """``fct_interactions`` for the run's days only: an incremental delete+insert of that range."""
    window = context.partition_time_window
    days = partition_env(window.start.date().isoformat(), window.end.date().isoformat())
    yield from _build(context, dbt, env=days)


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=PlatformDbtTranslator(),
    select="path:models/marts",
    exclude=INCREMENTAL_FACT,
    name="dbt_marts",
)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """The marts analysts and the models read, rebuilt from the facts, with their tests."""
    yield from _build(context, dbt)
