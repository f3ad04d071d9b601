"""The dbt project as Dagster sees it, built once per process, and its manifest preparation.

The manifest is produced by ``python -m pipelines.transform.project`` (run by ``make`` and by the
test session), never parsed while Dagster imports the code location.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject

from core.settings import REPO_ROOT, get_settings
from pipelines.kernel.attributes import markdown

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The days of interactions a run of fct_interactions rebuilds, as macros/interactions_window.sql
# reads them.
PARTITION_ENV = ("DBT_INTERACTIONS_FROM", "DBT_INTERACTIONS_TO")


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
    """Write ``target/manifest.json`` with ``dbt parse`` (seconds; no database needed).

    The same parse leaves ``target/partial_parse.msgpack``, which every dbt run then starts from
    (``partial_parse_env``).
    """
    run_dbt(["parse", "--quiet"])
    return dbt_project().manifest_path


def partial_parse_env(target: Path) -> dict[str, str]:
    """Environment that makes dbt start from the parse saved in ``target``.

    Dagster gives every dbt run a fresh target folder, where dbt finds no saved parse and parses
    the whole project again (seconds per run). Pointed at the prepared one, dbt re-parses only
    the files that changed since, or read an environment variable whose value did; dbt reads
    that file and writes its own into the run's folder, so the prepared one is never rewritten.
    """
    return {"DBT_PARTIAL_PARSE_FILE_PATH": str(target / "partial_parse.msgpack")}


def partition_env(start: str, end: str) -> dict[str, str]:
    """Environment that restricts ``fct_interactions`` to interactions in [start, end).

    Passed to dbt as environment variables, not ``--vars``: dbt re-parses the whole project when
    the vars differ from those of its saved parse, whereas these are read only when the models
    run (``macros/interactions_window.sql``), so a partition's run re-parses nothing.
    """
    return dict(zip(PARTITION_ENV, (start, end), strict=True))


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ``, the partition window unset unless given; restored after.

    ``DbtCliResource`` hands dbt a copy of ``os.environ`` and takes no environment of its own;
    scoped, the window of one partition's run never reaches another run of the process.
    """
    names = {*values, *PARTITION_ENV}
    saved = {name: os.environ.get(name) for name in names}
    for name in PARTITION_ENV:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        # The marts follow their upstreams (a new load, a new partition) instead of a clock.
        if dbt_resource_props.get("schema") == "marts":
            return dg.AutomationCondition.eager()
        return None

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return markdown(super().get_description(dbt_resource_props)) or ""


if __name__ == "__main__":
    print(prepare_manifest())
