"""dbt models as assets: staging, intermediate and marts, downstream of the ingest assets."""

import os
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from core.settings import get_settings
from pipelines.transform.project import PlatformDbtTranslator, dbt_project


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=PlatformDbtTranslator(),
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """``dbt build`` of the selected models: runs them and their data tests, in lineage order."""
    # dbt reads the connection from these variables (dbt_project/profiles.yml).
    os.environ.update(get_settings().dbt_env())
    yield from dbt.cli(["build"], context=context).stream()
