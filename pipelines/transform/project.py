"""The dbt project as Dagster sees it, built once per process, and its manifest preparation.

The manifest is produced by ``python -m pipelines.transform.project`` (run by ``make`` and by the
test session), never parsed while Dagster imports the code location.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject

from core.settings import REPO_ROOT, get_settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def dbt_executable() -> Path:
    """The venv's dbt: ``DbtCliResource`` would otherwise search PATH, which may lack it."""
    return Path(sys.executable).parent / "dbt"


def dbt_environment() -> dict[str, str]:
    """The process environment plus the connection variables ``profiles.yml`` reads."""
    return {**os.environ, **get_settings().dbt_env()}


@cache
def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=str(dbt_executable()))


def run_dbt(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a dbt command on the project outside Dagster (manifest, docs)."""
    command = [
        str(dbt_executable()),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    return subprocess.run(  # noqa: S603 - fixed executable, arguments from code
        command, env=dbt_environment(), check=True, capture_output=True, text=True
    )


def prepare_manifest() -> Path:
    """Write ``target/manifest.json`` with ``dbt parse`` (seconds; no database needed)."""
    run_dbt(["parse", "--quiet"])
    return dbt_project().manifest_path


class PlatformDbtTranslator(DagsterDbtTranslator):
    """dbt nodes keyed by their schema (``marts/dim_users``), grouped as ``transform``.

    Sources keep dbt's default ``[source, table]`` keys, which are exactly the ingest assets'
    keys (``raw/events``), so lineage from ingestion into the marts is drawn without a mapping.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "transform"


if __name__ == "__main__":
    print(prepare_manifest())
