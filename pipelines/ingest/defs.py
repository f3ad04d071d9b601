"""Ingest domain: assets, the landing-zone sensor and the daily interactions job."""

import dagster as dg

from core.contracts import EVENTS, USERS
from core.db import connect
from core.settings import get_settings
from pipelines.ingest import assets, landing

landing_job = dg.define_asset_job(
    "ingest_landing_job",
    selection=dg.AssetSelection.assets(
        assets.RAW_USERS, assets.RAW_EVENTS, assets.APP_CATALOGUE, assets.RAW_INTERACTIONS
    ),
    partitions_def=assets.interaction_partitions,
)


def new_landing_files(known_paths: set[str]) -> tuple[list[str], bool]:
    """Days whose interaction folders hold files not yet in the ledger, and whether any user or
    event feed file is new (those reload whole)."""
    root = get_settings().landing_dir
    days = [
        day.isoformat()
        for day in landing.interaction_days(root)
        if any(str(p) not in known_paths for p in landing.interaction_files(root, day))
    ]
    feeds = [*landing.dataset_files(root, USERS), *landing.dataset_files(root, EVENTS)]
    return days, any(str(p) not in known_paths for p in feeds)


@dg.sensor(
    job=landing_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def landing_zone_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Launch an ingest run for every day that received new interaction files.

    New user or event feed files ride along with the first run (they reload whole). The run key
    names the files, so the same landing never launches twice.
    """
    with connect() as conn:
        known = {row[0] for row in conn.execute("SELECT path FROM raw.landed_files")}
    days, feeds_changed = new_landing_files(known)
    requests = [
        dg.RunRequest(run_key=f"interactions:{day}:{len(known)}", partition_key=day) for day in days
    ]
    if not requests and feeds_changed:
        latest = landing.interaction_days(get_settings().landing_dir)
        if latest:
            requests.append(
                dg.RunRequest(run_key=f"feeds:{len(known)}", partition_key=latest[-1].isoformat())
            )
    return dg.SensorResult(run_requests=requests)


defs = dg.Definitions(
    assets=[
        assets.raw_users,
        assets.raw_events,
        assets.raw_interactions,
        assets.app_catalogue,
        assets.raw_app_tables,
    ],
    jobs=[landing_job],
    sensors=[landing_zone_sensor],
)
