"""dbt models as assets: staging, intermediate and marts, downstream of the ingest assets.

The project is split in three so the big incremental fact can follow the daily partitions of the
interactions: staging and intermediate views (unpartitioned), ``fct_interactions`` (one daily
partition, or a range of them, per run), and the marts built on top (unpartitioned).
"""

import json
import os
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from core.settings import get_settings
from pipelines.ingest.assets import interaction_partitions
from pipelines.transform.project import PlatformDbtTranslator, dbt_project

INCREMENTAL_FACT = "fct_interactions"
UPSTREAM_SELECT = "path:models/staging path:models/intermediate path:seeds"


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, *args: str) -> Iterator[Any]:
    # dbt reads the connection from these variables (dbt_project/profiles.yml).
    os.environ.update(get_settings().dbt_env())
    # A test over several models runs with the last of them ("buildable"), never before them.
    command = ["build", "--indirect-selection", "buildable", *args]
    yield from dbt.cli(command, context=context).stream()


def partition_vars(start: str, end: str) -> dict[str, str]:
    """dbt vars that restrict the incremental fact to interactions in [start, end)."""
    return {"interactions_from": start, "interactions_to": end}


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
    variables = partition_vars(window.start.date().isoformat(), window.end.date().isoformat())
    yield from _build(context, dbt, "--vars", json.dumps(variables))


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
