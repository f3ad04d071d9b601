"""The platform's Dagster code location: every domain package's ``defs``, merged.

A domain registers itself by having a ``defs`` module; nothing here lists them by hand.
"""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

import pipelines
from pipelines.kernel.attributes import platform_spec
from pipelines.kernel.partitions import interaction_partitions


def domain_definitions() -> list[dg.Definitions]:
    """The ``defs`` of every sub-package of ``pipelines`` that has one, in name order."""
    found = []
    for module in sorted(pkgutil.iter_modules(pipelines.__path__), key=lambda m: m.name):
        if not module.ispkg:
            continue
        try:
            defs_module = importlib.import_module(f"pipelines.{module.name}.defs")
        except ModuleNotFoundError as exc:
            if exc.name != f"pipelines.{module.name}.defs":
                raise
            continue
        found.append(defs_module.defs)
    return found


def _daily_pipeline() -> dg.Definitions:
    daily_job = dg.define_asset_job(
        "daily_pipeline",
        selection=dg.AssetSelection.all(),
        description="Ingest yesterday, check it, rebuild the marts, re-score recommendations.",
        partitions_def=interaction_partitions,
    )
    return dg.Definitions(
        jobs=[daily_job],
        schedules=[
            dg.build_schedule_from_partitioned_job(
                daily_job, hour_of_day=2, default_status=dg.DefaultScheduleStatus.STOPPED
            )
        ],
    )


def with_platform_attributes(merged: dg.Definitions) -> dg.Definitions:
    """``merged`` with every asset's owner, tags, kind and Markdown description set in one place,
    and a reference to the code that defines it."""
    specs = merged.map_asset_specs(func=platform_spec)
    return dg.Definitions(
        assets=dg.with_source_code_references(list(specs.assets or [])),
        asset_checks=specs.asset_checks,
        jobs=specs.jobs,
        schedules=specs.schedules,
        sensors=specs.sensors,
        resources=specs.resources,
        executor=specs.executor,
        loggers=specs.loggers,
    )


defs = with_platform_attributes(dg.Definitions.merge(*domain_definitions(), _daily_pipeline()))
