"""Asset checks: each raw table validated by its Great Expectations suite after every load.

The checks are blocking: a failing suite stops the run before dbt builds marts (and models train)
on bad data. Each result carries its evidence (failed expectations, counts, examples).
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd

from core.db import connect
from pipelines.kernel.keys import (
    RAW_EVENTS,
    RAW_FEEDBACK,
    RAW_INTERACTIONS,
    RAW_REGISTRATIONS,
    RAW_USERS,
)
from pipelines.kernel.partitions import interaction_partitions
from pipelines.kernel.raw_tables import known_ids
from pipelines.quality import suites

# Bounds the memory a check needs on large partitions; keys are unique by primary key anyway.
MAX_ROWS_CHECKED = 1_000_000


def read_frame(query: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run ``query`` and return its rows as a pandas frame (what GX validates)."""
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute(query, params or {})
        columns = [d.name for d in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def to_check_result(outcome: suites.SuiteOutcome) -> dg.AssetCheckResult:
    """Dagster's view of a suite outcome, with the evidence as metadata."""
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows_checked": dg.MetadataValue.int(outcome.rows_checked),
            "expectations_evaluated": dg.MetadataValue.int(outcome.evaluated),
            "expectations_failed": dg.MetadataValue.int(len(outcome.failed)),
            "failures": dg.MetadataValue.json(outcome.failed),
        },
    )


@dg.asset_check(asset=RAW_USERS, blocking=True, name="users_suite")
def users_suite_check() -> dg.AssetCheckResult:
    """Great Expectations suite over ``raw.users``: keys, roles, coordinates."""
    frame = read_frame(f"SELECT * FROM raw.users LIMIT {MAX_ROWS_CHECKED}")
    return to_check_result(suites.run_suite("raw_users", frame, suites.users_suite()))


@dg.asset_check(asset=RAW_EVENTS, blocking=True, name="events_suite")
def events_suite_check() -> dg.AssetCheckResult:
    """Great Expectations suite over ``raw.events``: keys, statuses, ranges, end after start."""
    frame = read_frame(f"SELECT * FROM raw.events LIMIT {MAX_ROWS_CHECKED}")
    frame["price"] = frame["price"].astype(float)
    return to_check_result(suites.run_suite("raw_events", frame, suites.events_suite()))


@dg.asset_check(
    asset=RAW_INTERACTIONS,
    blocking=True,
    name="interactions_suite",
    partitions_def=interaction_partitions,
)
def interactions_suite_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Great Expectations suite over the run's days of ``raw.interactions``.

    Checks ids, vocabularies, that no timestamp lies in the future and that every row references
    a known event and user.
    """
    key_range = context.partition_key_range
    start = date.fromisoformat(key_range.start)
    end = date.fromisoformat(key_range.end) + timedelta(days=1)
    frame = read_frame(
        f"""SELECT interaction_id, user_id, event_id, type, source, occurred_at
            FROM raw.interactions WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
            LIMIT {MAX_ROWS_CHECKED}""",
        {"start": start, "end": end},
    )
    expectations = suites.interactions_suite(
        datetime.now(UTC),
        known_ids("events", "event_id").to_list(),
        known_ids("users", "user_id").to_list(),
    )
    return to_check_result(suites.run_suite("raw_interactions", frame, expectations))


@dg.asset_check(asset=RAW_REGISTRATIONS, blocking=True, name="registrations_suite")
def registrations_suite_check() -> dg.AssetCheckResult:
    """Great Expectations suite over ``raw.registrations``: keys, statuses, references."""
    frame = read_frame(
        f"SELECT registration_id, user_id, event_id, status FROM raw.registrations "
        f"LIMIT {MAX_ROWS_CHECKED}"
    )
    expectations = suites.registrations_suite(
        known_ids("events", "event_id").to_list(), known_ids("users", "user_id").to_list()
    )
    return to_check_result(suites.run_suite("raw_registrations", frame, expectations))


@dg.asset_check(asset=RAW_FEEDBACK, blocking=True, name="feedback_suite")
def feedback_suite_check() -> dg.AssetCheckResult:
    """Great Expectations suite over ``raw.recommendation_feedback``."""
    frame = read_frame(
        "SELECT feedback_id::text AS feedback_id, model_version, action, occurred_at "
        f"FROM raw.recommendation_feedback LIMIT {MAX_ROWS_CHECKED}"
    )
    outcome = suites.run_suite("raw_feedback", frame, suites.feedback_suite(datetime.now(UTC)))
    return to_check_result(outcome)


# Landed data older than this means the feeds stopped arriving; a warning, not a blocker, since
# the marts and models are still consistent, only stale.
INTERACTIONS_MAX_AGE = timedelta(days=2)


@dg.asset_check(asset=RAW_INTERACTIONS, name="interactions_fresh")
def interactions_freshness_check() -> dg.AssetCheckResult:
    """The newest interaction in ``raw.interactions`` is recent: the clickstream still flows."""
    with connect() as conn:
        row = conn.execute("SELECT max(occurred_at) FROM raw.interactions").fetchone()
    newest = row[0] if row else None
    age = datetime.now(UTC) - newest if newest is not None else None
    return dg.AssetCheckResult(
        passed=age is not None and age <= INTERACTIONS_MAX_AGE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "newest_interaction": dg.MetadataValue.text(str(newest)),
            "age_hours": dg.MetadataValue.float(
                round(age.total_seconds() / 3600, 1) if age is not None else -1.0
            ),
            "max_age_hours": dg.MetadataValue.float(INTERACTIONS_MAX_AGE.total_seconds() / 3600),
        },
    )
