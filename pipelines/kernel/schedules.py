"""Schedules of the platform: in UTC and running from the first start, wherever they are made.

Only for work whose reason is the clock (a finished day, a week of data, polling a table);
everything else follows its upstreams with an automation condition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


def running_schedule(job: UnresolvedAssetJobDefinition, cron: str) -> dg.ScheduleDefinition:
    """A schedule of ``job`` on ``cron`` (UTC), running as soon as the daemon starts."""
    return dg.ScheduleDefinition(
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
