"""The daily partitions shared by the interactions, their checks, the fact table and the jobs."""

import dagster as dg

from core.settings import get_settings

# A day is a partition once it is over (no end offset): at 02:00 the newest partition is
# yesterday, which is what the daily schedule runs; files landing today wait for midnight.
interaction_partitions = dg.DailyPartitionsDefinition(
    start_date=get_settings().interactions_start_date.isoformat(), timezone="UTC"
)
