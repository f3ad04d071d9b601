"""Copying what the API wrote (``app.*``) into ``raw.*``, where the checks and the marts read it.

Incremental by a high-water mark per source table kept in ``raw.watermarks``; every statement is
an idempotent upsert, so a re-run, an overlap or a reset watermark changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from pipelines.ingest import loading

API_SOURCE = "app.interactions"

# Rows committed late can carry a timestamp just below the previous high-water mark; re-reading a
# short overlap is harmless because every statement below is an idempotent upsert.
WATERMARK_OVERLAP = timedelta(minutes=5)

_APP_SYNCS: dict[str, tuple[str, str]] = {
    "app.registrations": (
        "updated_at",
        """INSERT INTO raw.registrations (registration_id, user_id, event_id, status,
                                          created_at, updated_at)
           SELECT id, user_id, event_id, status, created_at, updated_at
           FROM app.registrations WHERE updated_at > %(since)s
           ON CONFLICT (registration_id) DO UPDATE SET status = excluded.status,
               updated_at = excluded.updated_at, _loaded_at = now()""",
    ),
    "app.recommendation_feedback": (
        "received_at",
        """INSERT INTO raw.recommendation_feedback (feedback_id, user_id, event_id, model_version,
                                                    action, position, occurred_at, received_at)
           SELECT id, user_id, event_id, model_version, action, position, occurred_at, received_at
           FROM app.recommendation_feedback WHERE received_at > %(since)s
           ON CONFLICT (feedback_id) DO NOTHING""",
    ),
    API_SOURCE: (
        "received_at",
        """INSERT INTO raw.interactions (interaction_id, user_id, event_id, type, occurred_at,
                                         source, context, model_version, _source_file)
           SELECT id::text, user_id, event_id, type, occurred_at, source, context, model_version,
                  'app.interactions'
           FROM app.interactions WHERE received_at > %(since)s
           ON CONFLICT DO NOTHING""",
    ),
}


def sync_app_tables(
    conn: psycopg.Connection, sources: Collection[str] | None = None
) -> dict[str, int]:
    """Copy each app table's rows (of ``sources``, default all) since its high-water mark into
    ``raw``; rows per source."""
    counts: dict[str, int] = {}
    for source, (column, statement) in _APP_SYNCS.items():
        if sources is not None and source not in sources:
            continue
        row = conn.execute(
            "SELECT high_water FROM raw.watermarks WHERE source = %s FOR UPDATE", (source,)
        ).fetchone()
        since = row[0] - WATERMARK_OVERLAP if row else datetime(1970, 1, 1, tzinfo=UTC)
        high = conn.execute(
            sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.SQL(source))
        ).fetchone()
        if source == API_SOURCE:
            days = conn.execute(
                "SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date FROM app.interactions "
                "WHERE received_at > %s",
                (since,),
            ).fetchall()
            loading.ensure_interactions_partitions(conn, [d[0] for d in days])
        counts[source] = conn.execute(statement, {"since": since}).rowcount
        if high and high[0] is not None:
            conn.execute(
                """INSERT INTO raw.watermarks (source, high_water) VALUES (%s, %s)
                   ON CONFLICT (source) DO UPDATE SET high_water = excluded.high_water,
                       updated_at = now()""",
                (source, high[0]),
            )
    return counts
