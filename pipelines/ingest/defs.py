"""Ingest domain: assets, the landing-zone sensor and the daily interactions job."""

import hashlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import dagster as dg

from core.contracts import EVENTS, FOLLOWS, USERS
from core.db import connect
from core.settings import get_settings
from pipelines.ingest import assets, landing, loading
from pipelines.ingest.quarantine_table import raw_quarantine
from pipelines.kernel.schedules import running_schedule

landing_job = dg.define_asset_job(
    "ingest_landing_job",
    selection=dg.AssetSelection.assets(
        assets.RAW_USERS,
        assets.RAW_EVENTS,
        assets.RAW_FOLLOWS,
        assets.APP_CATALOGUE,
        assets.APP_FOLLOWS,
        assets.RAW_INTERACTIONS,
    ),
    partitions_def=assets.interaction_partitions,
)

app_tables_sync_job = dg.define_asset_job(
    "app_tables_sync_job",
    selection=dg.AssetSelection.assets(assets.RAW_REGISTRATIONS, assets.RAW_FEEDBACK),
    description="Copy what the API wrote since the last run into raw (then the marts follow).",
)


def fingerprint(paths: list[Path]) -> str:
    """A short digest of a set of files as they are now (names, sizes, modification times).

    Run keys built from it repeat only while the files stay the same: a run that failed is not
    retried on every tick, and a corrected or added file gets a run of its own.
    """
    digest = hashlib.sha256()
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def landing_run_requests(
    root: Path, ledger: Mapping[str, landing.LedgerEntry], last_day: date | None
) -> list[dg.RunRequest]:
    """Run requests for every complete day with pending interaction files, up to ``last_day``.

    Pending user, event or follows feed files (those reload whole) ride along with the first
    requested day, and their files are part of its run key; with no pending day they get a run of
    their own on the newest landed day.
    """
    if last_day is None:
        return []
    feeds = [p for data in (USERS, EVENTS, FOLLOWS) for p in landing.dataset_files(root, data)]
    feed_files = feeds if landing.pending_files(feeds, ledger) else []
    landed = [day for day in landing.interaction_days(root) if day <= last_day]
    requests = []
    for day in landed:
        files = landing.interaction_files(root, day)
        if not landing.pending_files(files, ledger):
            continue
        watched = files + (feed_files if not requests else [])
        requests.append(
            dg.RunRequest(
                run_key=f"interactions:{day.isoformat()}:{fingerprint(watched)}",
                partition_key=day.isoformat(),
            )
        )
    if not requests and feed_files and landed:
        requests.append(
            dg.RunRequest(
                run_key=f"feeds:{fingerprint(feed_files)}", partition_key=landed[-1].isoformat()
            )
        )
    return requests


@dg.sensor(
    job=landing_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def landing_zone_sensor() -> dg.SensorResult:
    """Launch an ingest run for every complete day that received new or corrected files.

    The run key is the day and a fingerprint of its files, so the same landing never launches
    twice, a failed day is not retried until its files change, and a corrected file is loaded.
    Today's folder waits until the day is over (it becomes a partition at midnight UTC).
    """
    last = assets.interaction_partitions.get_last_partition_key()
    last_day = date.fromisoformat(last) if last else None
    with connect() as conn:
        ledger = loading.read_ledger(conn)
    requests = landing_run_requests(get_settings().landing_dir, ledger, last_day)
    return dg.SensorResult(run_requests=requests)


defs = dg.Definitions(
    assets=[
        assets.raw_users,
        assets.raw_events,
        assets.raw_organizer_follows,
        assets.raw_interactions,
        assets.app_catalogue,
        assets.app_organizer_follows,
        assets.raw_app_tables,
        raw_quarantine,
    ],
    jobs=[landing_job, app_tables_sync_job],
    schedules=[
        # Time is the reason: the operational tables are polled, a quarter hour behind at most.
        running_schedule(app_tables_sync_job, "*/15 * * * *")
    ],
    sensors=[landing_zone_sensor],
)
