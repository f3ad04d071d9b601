"""Ingest assets: landed users, events and daily interactions into ``raw.*``, and the API's tables.

Each load validates every row against the contract (bad rows go to ``raw.quarantine`` with their
reason), drops duplicates, and writes in one transaction: a failed run leaves nothing behind.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl
from psycopg import sql

from core.contracts import EVENTS, FEEDBACK, FOLLOWS, INTERACTIONS, USERS, LandingDataset
from core.db import connect
from core.settings import get_settings
from pipelines.ingest import landing, loading
from pipelines.ingest.app_sync import API_SOURCE, sync_app_tables
from pipelines.ingest.feedback_files import load_feedback_files
from pipelines.ingest.parsing import (
    READ_ERROR,
    ParsedBatch,
    read_landed_file,
    read_landed_files,
    validate,
)
from pipelines.kernel.copy import copy_into
from pipelines.kernel.keys import (
    APP_CATALOGUE,
    APP_FOLLOWS,
    RAW_EVENTS,
    RAW_FEEDBACK,
    RAW_FOLLOWS,
    RAW_INTERACTIONS,
    RAW_REGISTRATIONS,
    RAW_USERS,
)
from pipelines.kernel.partitions import interaction_partitions
from pipelines.kernel.raw_tables import known_ids, known_users_and_events
from pipelines.quality.quarantine import (
    EXAMPLES,
    quarantine_rate_result,
    quarantine_rate_spec,
)

# Feeds are expected at least daily; the UI flags them stale after a day, failed after two.
FEED_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=2), warn_window=timedelta(days=1)
)


def _read_dataset(files: list, dataset: LandingDataset) -> tuple[pl.DataFrame, tuple[str, ...]]:
    frames, unknown = [], set()
    for path in files:
        frame, extra = read_landed_file(path, dataset)
        frames.append(frame.select(loading_columns(dataset)))
        unknown.update(extra)
    if not frames:
        empty = {name: pl.String for name in loading_columns(dataset)}
        empty.update({"_line": pl.Int64, "_invalid": pl.Boolean})
        return pl.DataFrame(schema=empty), ()
    return pl.concat(frames, how="vertical_relaxed"), tuple(sorted(unknown))


def loading_columns(dataset: LandingDataset) -> list[str]:
    return ["_source_file", "_line", "_record", "_invalid", READ_ERROR, *dataset.names]


def _ledger(batch: ParsedBatch, frame: pl.DataFrame) -> pl.DataFrame:
    from pathlib import Path

    counts = loading.per_file_counts(frame, batch)
    return counts.with_columns(
        pl.col("_source_file").alias("path"),
        pl.col("_source_file")
        .map_elements(lambda p: loading.file_sha256(Path(p)), return_dtype=pl.String)
        .alias("sha256"),
        pl.col("_source_file")
        .map_elements(lambda p: Path(p).stat().st_size, return_dtype=pl.Int64)
        .alias("size_bytes"),
    ).drop("_source_file")


def _batch_metadata(batch: ParsedBatch, started: float, files: int) -> dict[str, dg.MetadataValue]:
    reasons = (
        batch.rejected.group_by("reason").agg(pl.len().alias("rows")).sort("rows", descending=True)
    )
    return {
        "files": dg.MetadataValue.int(files),
        "rows_read": dg.MetadataValue.int(batch.rows_read),
        "rows_loaded": dg.MetadataValue.int(batch.good.height),
        "rows_quarantined": dg.MetadataValue.int(batch.rejected.height),
        "rows_duplicate": dg.MetadataValue.int(batch.duplicates),
        "dagster/row_count": dg.MetadataValue.int(batch.good.height),
        "unknown_columns": dg.MetadataValue.text(", ".join(batch.unknown_columns) or "none"),
        "quarantine_reasons": dg.MetadataValue.md(
            reasons.to_pandas().to_markdown(index=False) if reasons.height else "none"
        ),
        "quarantine_table": dg.MetadataValue.text("raw.quarantine"),
        "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
    }


def _load_snapshot(
    context: dg.AssetExecutionContext,
    dataset: LandingDataset,
    table: str,
    key: dg.AssetKey,
    *,
    order_by: str = "updated_at",
    known: dict[str, pl.Series] | None = None,
) -> dg.MaterializeResult:
    """Reload a small dimension-like dataset whole: TRUNCATE + COPY in one transaction.

    Of rows naming the same key, the latest by ``order_by`` wins; ``known`` maps a column to the
    ids it must reference.
    """
    started = time.perf_counter()
    files = landing.dataset_files(get_settings().landing_dir, dataset)
    frame, unknown = _read_dataset(files, dataset)
    batch = validate(
        frame,
        dataset,
        now=datetime.now(UTC),
        known_ids=known,
        unknown_columns=unknown,
        order_by=order_by,
    )
    rows = batch.good.rename({"_source_file": "_source"}).drop("_line")
    with connect() as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier("raw", table)))
        copy_into(conn, sql.Identifier("raw", table), rows)
        loading.replace_quarantine(conn, dataset.name, [""], batch.rejected, context.run_id)
        loading.record_landed_files(conn, dataset.name, _ledger(batch, frame), context.run_id)
    check = quarantine_rate_result(key, batch.rows_read, batch.rejected.height, batch.rejected)
    return dg.MaterializeResult(
        metadata=_batch_metadata(batch, started, len(files)), check_results=[check]
    )


@dg.asset(
    key=RAW_USERS,
    group_name="ingest",
    kinds={"polars", "postgres"},
    freshness_policy=FEED_FRESHNESS,
    check_specs=[quarantine_rate_spec(RAW_USERS)],
)
def raw_users(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Users landed in ``landing/users`` (CSV/JSONL), validated and loaded into ``raw.users``.

    The table is rebuilt whole on every run; for each user id the latest ``updated_at`` wins.
    """
    return _load_snapshot(context, USERS, "users", RAW_USERS)


@dg.asset(
    key=RAW_EVENTS,
    group_name="ingest",
    kinds={"polars", "postgres"},
    freshness_policy=FEED_FRESHNESS,
    check_specs=[quarantine_rate_spec(RAW_EVENTS)],
)
def raw_events(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Event feeds landed in ``landing/events`` (CSV/JSONL), validated into ``raw.events``.

    Partners re-send their whole catalogue; for each event id the latest ``updated_at`` wins.
    """
    return _load_snapshot(context, EVENTS, "events", RAW_EVENTS)


@dg.asset(
    key=RAW_FOLLOWS,
    group_name="ingest",
    kinds={"polars", "postgres"},
    deps=[RAW_USERS],
    check_specs=[quarantine_rate_spec(RAW_FOLLOWS)],
)
def raw_organizer_follows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Follows of organisers landed in ``landing/organizer_follows`` (CSV/JSONL), validated into
    ``raw.organizer_follows``.

    The partner re-sends every follow; the table is rebuilt whole and the latest ``followed_at``
    of a pair wins. The follower must be a landed user and the followed one a landed organiser
    (``unknown organizer_id`` otherwise); a self-follow is quarantined.
    """
    organizers = known_ids("users", "user_id", role="organizer").alias("organizer_id")
    return _load_snapshot(
        context,
        FOLLOWS,
        "organizer_follows",
        RAW_FOLLOWS,
        order_by="followed_at",
        known={"user_id": known_ids("users", "user_id"), "organizer_id": organizers},
    )


# The partition of a landed interactions file: the day its folder names.
_FILE_PARTITION = pl.col("_source_file").str.extract(r"date=(\d{4}-\d{2}-\d{2})").fill_null("")

# Days validated in one pass are bounded by the bytes of their files, to bound memory.
MAX_BATCH_BYTES = 512 << 20


def day_batches(days: list[date], sizes: dict[date, int], limit: int) -> list[list[date]]:
    """Consecutive groups of days whose files add up to at most ``limit`` bytes (at least a day)."""
    batches: list[list[date]] = []
    current: list[date] = []
    total = 0
    for day in days:
        if current and total + sizes.get(day, 0) > limit:
            batches.append(current)
            current, total = [], 0
        current.append(day)
        total += sizes.get(day, 0)
    if current:
        batches.append(current)
    return batches


def load_interaction_days(
    days: list[date], run_id: str, known: dict[str, pl.Series]
) -> tuple[ParsedBatch, pl.DataFrame]:
    """Validate the days' landed interaction files in one pass, then swap each day's partition.

    Returns the batch and its ledger rows (each file's path and counts).

    All days of the batch are replaced in one transaction: a failure leaves every day as it was.
    A day's folder may hold JSON Lines and Parquet files; both are validated by the same rules.
    The files' content hashes (for the ledger) are computed on a thread while the rows are read
    and validated, since hashing releases the GIL and would otherwise add a pass over the bytes.
    """
    root = get_settings().landing_dir
    files = [path for day in days for path in landing.interaction_files(root, day)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        digests = pool.map(loading.file_sha256, files)
        frame, unknown = read_landed_files(files, INTERACTIONS)
        # Each file's folder names its day: look it up per file rather than parse it per row.
        folder_days = {str(p): date.fromisoformat(p.parent.name[len("date=") :]) for p in files}
        folder_day = pl.col("_source_file").replace_strict(folder_days, return_dtype=pl.Date)
        batch = validate(
            frame.with_columns(folder_day.alias("_folder_day")),
            INTERACTIONS,
            now=datetime.now(UTC),
            known_ids=known,
            unknown_columns=unknown,
            extra_rules=[
                (
                    pl.col("__timestamp").dt.date() != pl.col("_folder_day"),
                    "timestamp is outside the partition day",
                )
            ],
        )
        hashes = dict(zip([str(p) for p in files], digests, strict=True))
    # Not sorted for the primary key: at 5 M rows the sort here costs more than it saves the
    # key's build (measured; see docs/benchmarks/ingest.md).
    rows = batch.good.select(
        "interaction_id",
        "user_id",
        "event_id",
        "type",
        pl.col("timestamp").alias("occurred_at"),
        "source",
        "context",
        "model_version",
        "_source_file",
    )
    # Rows outside their folder's day are rejected, so a one-day batch needs no split.
    by_day = (
        rows.with_columns(pl.col("occurred_at").dt.date().alias("_day")).partition_by(
            "_day", as_dict=True, include_key=False
        )
        if len(days) > 1
        else {(days[0],): rows}
    )
    rejected = batch.rejected.with_columns(_FILE_PARTITION.alias("partition_key"))
    ledger = loading.per_file_counts(frame, batch).select(
        pl.col("_source_file").alias("path"),
        pl.col("_source_file").replace_strict(hashes, return_dtype=pl.String).alias("sha256"),
        pl.col("_source_file")
        .replace_strict({str(p): p.stat().st_size for p in files}, return_dtype=pl.Int64)
        .alias("size_bytes"),
        "rows_read",
        "rows_loaded",
        "rows_quarantined",
        "rows_duplicate",
    )
    empty = rows.clear()
    with connect() as conn:
        for day in days:
            loading.swap_interactions_partition(
                conn, day, by_day.get((day,), empty), keep_sources=(API_SOURCE,)
            )
        keys = [day.isoformat() for day in days]
        loading.replace_quarantine(conn, INTERACTIONS.name, keys, rejected, run_id)
        loading.record_landed_files(conn, INTERACTIONS.name, ledger, run_id)
    return batch, ledger


COUNTS = ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")


def counts_per_day(days: list[date], ledger: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Each day's own counts, from the ledger rows of its files (a day without files has zeros).

    A file's folder names its day and a row outside that day is quarantined, so the counts of a
    day's files are exactly the day's.
    """
    per_day = {day.isoformat(): dict.fromkeys(COUNTS, 0) for day in days}
    if ledger.is_empty():
        return per_day
    totals = (
        ledger.with_columns(pl.col("path").str.extract(r"date=(\d{4}-\d{2}-\d{2})").alias("day"))
        .group_by("day")
        .agg(pl.col(c).sum() for c in COUNTS)
    )
    for row in totals.iter_rows(named=True):
        if row["day"] in per_day:
            per_day[row["day"]] = {c: int(row[c]) for c in COUNTS}
    return per_day


@dg.asset(
    key=RAW_INTERACTIONS,
    group_name="ingest",
    kinds={"polars", "postgres"},
    partitions_def=interaction_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    freshness_policy=FEED_FRESHNESS,
    deps=[RAW_USERS, RAW_EVENTS],
    check_specs=[quarantine_rate_spec(RAW_INTERACTIONS)],
)
def raw_interactions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Clickstream interactions landed per day (``interactions/date=YYYY-MM-DD/*.jsonl``).

    Each day becomes one partition of ``raw.interactions``, rebuilt from all of that day's files
    and swapped in atomically, so re-running a day or re-landing a file changes nothing. Rows that
    name an unknown user or event, or break the contract, are quarantined with the reason. A
    backfill of many days runs as one run, validating batches of days in one pass each.
    """
    started = time.perf_counter()
    known = known_users_and_events()
    window = context.partition_time_window
    days = [
        window.start.date() + timedelta(days=offset)
        for offset in range((window.end.date() - window.start.date()).days)
    ]
    root = get_settings().landing_dir
    sizes = {d: sum(p.stat().st_size for p in landing.interaction_files(root, d)) for d in days}
    unknown: set[str] = set()
    per_day: dict[str, dict[str, int]] = {}
    samples: list[pl.DataFrame] = []
    for batch_days in day_batches(days, sizes, MAX_BATCH_BYTES):
        batch, ledger = load_interaction_days(batch_days, context.run_id, known)
        unknown.update(batch.unknown_columns)
        samples.append(batch.rejected.head(EXAMPLES))
        reasons = batch.rejected.group_by(_FILE_PARTITION.alias("partition_key"), "reason").len()
        # A backfill's days each get their own counts, not the run's totals.
        for day, counts in counts_per_day(batch_days, ledger).items():
            per_day[day] = counts
            day_reasons = reasons.filter(pl.col("partition_key") == day)
            context.add_asset_metadata(
                {
                    **{name: dg.MetadataValue.int(value) for name, value in counts.items()},
                    "dagster/row_count": dg.MetadataValue.int(counts["rows_loaded"]),
                    "quarantine_reasons": dg.MetadataValue.json(
                        dict(zip(day_reasons["reason"], day_reasons["len"], strict=True))
                    ),
                },
                partition_key=day,
            )
    check = quarantine_rate_result(
        RAW_INTERACTIONS,
        sum(c["rows_read"] for c in per_day.values()),
        sum(c["rows_quarantined"] for c in per_day.values()),
        pl.concat(samples) if samples else pl.DataFrame(),
        per_day,
    )
    return dg.MaterializeResult(
        check_results=[check],
        metadata={
            "days_in_run": dg.MetadataValue.int(len(days)),
            "unknown_columns": dg.MetadataValue.text(", ".join(sorted(unknown)) or "none"),
            "quarantine_table": dg.MetadataValue.text("raw.quarantine"),
            "run_seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        },
    )


# A deleted account is never written again: a partner's later users file naming the person
# does not bring the personal data back (docs/personal-data.md).
_PUBLISH_USERS = """
INSERT INTO app.users (id, email, name, role, home_city, home_lat, home_lng, interests,
                       created_at, updated_at)
SELECT user_id, email, name, role, home_city, home_lat, home_lng, interests, created_at, updated_at
FROM raw.users
ON CONFLICT (id) DO UPDATE SET
    email = excluded.email, name = excluded.name, role = excluded.role,
    home_city = excluded.home_city, home_lat = excluded.home_lat, home_lng = excluded.home_lng,
    interests = excluded.interests, updated_at = excluded.updated_at
WHERE app.users.updated_at < excluded.updated_at AND app.users.deleted_at IS NULL
"""

_PUBLISH_EVENTS = """
INSERT INTO app.events (id, title, description, category, tags, starts_at, ends_at, timezone,
                        venue_name, city, lat, lng, capacity, price, currency, organizer_id,
                        series_id, venue_id, external_id, attendance_mode, online_url,
                        image_url, status, created_at, updated_at)
SELECT e.event_id, e.title, coalesce(e.description, ''), e.category, e.tags, e.starts_at,
       e.ends_at, coalesce(e.timezone, 'UTC'), e.venue_name, e.city, e.lat, e.lng,
       e.capacity, e.price, e.currency, u.id, e.series_id, e.venue_id, e.external_id,
       coalesce(e.attendance_mode,
                CASE WHEN lower(e.venue_name) = 'online' AND e.lat IS NULL THEN 'online'
                     ELSE 'in_person' END),
       e.online_url, e.image_url, e.status, e.created_at, e.updated_at
FROM raw.events AS e
LEFT JOIN app.users AS u ON u.id = e.organizer_id
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title, description = excluded.description, category = excluded.category,
    tags = excluded.tags, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
    timezone = excluded.timezone,
    venue_name = excluded.venue_name, city = excluded.city, lat = excluded.lat,
    lng = excluded.lng, capacity = excluded.capacity, price = excluded.price,
    currency = excluded.currency, organizer_id = excluded.organizer_id,
    series_id = excluded.series_id, venue_id = excluded.venue_id,
    external_id = excluded.external_id, attendance_mode = excluded.attendance_mode,
    online_url = excluded.online_url, image_url = excluded.image_url,
    status = excluded.status, updated_at = excluded.updated_at,
    version = app.events.version + 1
WHERE app.events.updated_at < excluded.updated_at
"""

# Landed follows newer than the last publication, of accounts that still exist: a follow is
# published once, so one that was undone through the API stays undone on the next reload.
_FOLLOWS_SOURCE = "raw.organizer_follows"
_PUBLISH_FOLLOWS = """
WITH since AS (
    SELECT coalesce(max(high_water), '-infinity') AS high_water
    FROM raw.watermarks WHERE source = %(source)s
), published AS (
    INSERT INTO app.organizer_follows (user_id, organizer_id, created_at)
    SELECT f.user_id, f.organizer_id, f.followed_at
    FROM raw.organizer_follows AS f
    JOIN app.users AS follower ON follower.id = f.user_id AND follower.deleted_at IS NULL
    JOIN app.users AS organizer ON organizer.id = f.organizer_id AND organizer.deleted_at IS NULL
    WHERE f.followed_at > (SELECT high_water FROM since)
    ON CONFLICT (user_id, organizer_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM published
"""
_ADVANCE_FOLLOWS = """
INSERT INTO raw.watermarks (source, high_water)
SELECT %(source)s, max(followed_at) FROM raw.organizer_follows HAVING max(followed_at) IS NOT NULL
ON CONFLICT (source) DO UPDATE SET high_water = greatest(raw.watermarks.high_water,
    excluded.high_water), updated_at = now()
"""

# Identity sequences must move past ids that arrived from the landing zone.
_RESYNC_IDENTITY = """
SELECT setval(pg_get_serial_sequence(%(table)s, 'id'),
              greatest((SELECT coalesce(max(id), 0) FROM {table}), 1))
"""


@dg.asset(key=APP_CATALOGUE, group_name="ingest", deps=[RAW_USERS, RAW_EVENTS], kinds={"postgres"})
def app_catalogue() -> dg.MaterializeResult:
    """Publish landed users and events into the operational ``app.*`` tables the API serves.

    Upsert by id: a landed row replaces an operational one only when its ``updated_at`` is newer,
    so edits made through the API after the last landing are kept.
    """
    with connect() as conn:
        users = conn.execute(_PUBLISH_USERS).rowcount
        events = conn.execute(_PUBLISH_EVENTS).rowcount
        for table in ("app.users", "app.events"):
            conn.execute(sql.SQL(_RESYNC_IDENTITY).format(table=sql.SQL(table)), {"table": table})
    return dg.MaterializeResult(
        metadata={
            "users_upserted": dg.MetadataValue.int(users),
            "events_upserted": dg.MetadataValue.int(events),
        }
    )


@dg.asset(
    key=APP_FOLLOWS, group_name="ingest", deps=[RAW_FOLLOWS, APP_CATALOGUE], kinds={"postgres"}
)
def app_organizer_follows() -> dg.MaterializeResult:
    """Publish landed follows into the API's ``app.organizer_follows``, each once.

    Only follows newer than the last publication (a watermark in ``raw.watermarks``), of accounts
    not deleted: an unfollow made through the API stays, a follow the export shows again later
    comes back. A broken follows file blocks only this, not the users' and events' publication.
    """
    params = {"source": _FOLLOWS_SOURCE}
    with connect() as conn:
        follows = conn.execute(_PUBLISH_FOLLOWS, params).fetchone()[0]
        conn.execute(_ADVANCE_FOLLOWS, params)
    return dg.MaterializeResult(metadata={"follows_published": dg.MetadataValue.int(follows)})


@dg.multi_asset(
    specs=[
        dg.AssetSpec(RAW_REGISTRATIONS, group_name="ingest", kinds={"postgres"}),
        dg.AssetSpec(
            RAW_FEEDBACK,
            group_name="ingest",
            kinds={"polars", "postgres"},
            deps=[RAW_INTERACTIONS],
        ),
    ],
    check_specs=[quarantine_rate_spec(RAW_FEEDBACK)],
)
def raw_app_tables(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    """What the API wrote since the last run (registrations, interactions, feedback) into ``raw.*``,
    and the recommendation widget's logs landed under ``recommendation_feedback/``.

    The one route of these rows to the marts: dbt reads the copies, which the quality suites
    check. Incremental by a high-water mark per source table kept in ``raw.watermarks``, and for
    landed feedback by the files ledger; never a full reload. API interactions go into the same
    day partitions as landed ones. Runs every 15 minutes (``app_tables_sync_schedule``), so the
    marts follow the API within a quarter hour.
    """
    root = get_settings().landing_dir
    with connect() as conn:
        counts = sync_app_tables(conn)
        ledger = loading.read_ledger(conn, FEEDBACK.name)
        files = landing.pending_files(landing.dataset_files(root, FEEDBACK), ledger)
        # Most runs of this 15-minute job find no new file: the ids are read only for one.
        load = (
            load_feedback_files(conn, files, known_users_and_events(), context.run_id)
            if files
            else None
        )
    shared = {
        f"rows_from_{key.split('.')[1]}": dg.MetadataValue.int(v) for key, v in counts.items()
    }
    yield dg.MaterializeResult(asset_key=RAW_REGISTRATIONS, metadata=shared)
    landed = {
        f"landed_{name}": dg.MetadataValue.int(load.total(name) if load else 0) for name in COUNTS
    }
    rejected = load.batch.rejected if load else pl.DataFrame()
    yield dg.MaterializeResult(
        asset_key=RAW_FEEDBACK,
        metadata={**shared, **landed, "landed_files": dg.MetadataValue.int(len(files))},
        check_results=[
            quarantine_rate_result(
                RAW_FEEDBACK,
                load.total("rows_read") if load else 0,
                load.total("rows_quarantined") if load else 0,
                rejected,
            )
        ],
    )
