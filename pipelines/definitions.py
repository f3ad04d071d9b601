"""The platform's Dagster code location: every domain package's ``defs``, merged.

A domain registers itself by having a ``defs`` module; nothing here lists them by hand.
"""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

import pipelines
from pipelines.kernel.attributes import platform_spec
from pipelines.kernel.keys import RAW_QUARANTINE
from pipelines.kernel.partitions import interaction_partitions

# What follows its upstreams by an automation condition rather than a clock: the marts, the
# quarantine's preview and the scoring. Training has its own weekly schedule.
AUTOMATED = (
    dg.AssetSelection.key_prefixes(["marts"])
    | dg.AssetSelection.assets(RAW_QUARANTINE)
    | dg.AssetSelection.groups("serving")
)


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
        selection=dg.AssetSelection.all() - AUTOMATED - dg.AssetSelection.groups("ml"),
        description="Ingest yesterday, check it, curate, build staging; the marts and the "
        "scoring follow by their automation conditions.",
        partitions_def=interaction_partitions,
    )
    return dg.Definitions(
        jobs=[daily_job],
        schedules=[
            # Time is the reason: a day is complete at midnight UTC.
            dg.build_schedule_from_partitioned_job(
                daily_job, hour_of_day=2, default_status=dg.DefaultScheduleStatus.RUNNING
            )
        ],
        sensors=[
            # Evaluates every automation condition; running from the first start.
            dg.AutomationConditionSensorDefinition(
                "automation_sensor",
                target=AUTOMATED,
                default_status=dg.DefaultSensorStatus.RUNNING,
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
