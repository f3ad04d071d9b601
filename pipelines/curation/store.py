"""Reading landed listings from ``raw.events`` and replacing the ``curation.*`` tables.

Columns the batch code needs but a deployment's ``raw.events`` lacks (an older schema) come
back as nulls of the right type, so that the curation steps never depend on optional columns.
"""

from __future__ import annotations

import polars as pl
import psycopg
from psycopg import sql

from pipelines.curation.decisions import DECISION_SCHEMA
from pipelines.kernel.copy import copy_into
from pipelines.ml.training_data import query_frame

LISTING_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.Int64(),
    "title": pl.String(),
    "description": pl.String(),
    "category": pl.String(),
    "starts_at": pl.Datetime("us", "UTC"),
    "venue_name": pl.String(),
    "city": pl.String(),
    "lat": pl.Float64(),
    "lng": pl.Float64(),
    "capacity": pl.Int64(),
    "price": pl.Float64(),
    "currency": pl.String(),
    "organizer_id": pl.Int64(),
    "created_at": pl.Datetime("us", "UTC"),
    "_source": pl.String(),
}


def _cast(column: str, dtype: pl.DataType, frame: pl.DataFrame) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, dtype=dtype).alias(column)
    if isinstance(dtype, pl.Datetime) and frame.schema[column] == pl.String:
        return pl.col(column).str.to_datetime(time_zone="UTC").alias(column)
    return pl.col(column).cast(dtype).alias(column)


def read_listings(conn: psycopg.Connection) -> pl.DataFrame:
    """Every listing in ``raw.events``, in :data:`LISTING_SCHEMA`, ordered by id."""
    present = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'events'"
        )
    }
    wanted = [c for c in LISTING_SCHEMA if c in present]
    query = sql.SQL("SELECT {} FROM raw.events ORDER BY event_id").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in wanted)
    )
    frame = query_frame(conn, query.as_string(conn))
    if frame.width == 0:
        return pl.DataFrame(schema=LISTING_SCHEMA)
    return frame.select(_cast(c, dtype, frame) for c, dtype in LISTING_SCHEMA.items())


def replace_table(conn: psycopg.Connection, table: str, frame: pl.DataFrame) -> int:
    """Replace ``curation.<table>`` with ``frame`` (columns by name); the caller commits."""
    target = sql.Identifier("curation", table)
    conn.execute(sql.SQL("TRUNCATE {}").format(target))
    return copy_into(conn, target, frame)


CLUSTER_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.Int64(),
    "canonical_id": pl.Int64(),
    "is_canonical": pl.Boolean(),
    "match_probability": pl.Float64(),
}


def read_clusters(conn: psycopg.Connection) -> pl.DataFrame:
    """The current ``curation.listing_clusters``, in :data:`CLUSTER_SCHEMA`."""
    frame = query_frame(
        conn,
        "SELECT event_id, canonical_id, is_canonical::int AS is_canonical, match_probability "
        "FROM curation.listing_clusters",
    )
    if frame.width == 0:
        return pl.DataFrame(schema=CLUSTER_SCHEMA)
    return frame.select(pl.col(c).cast(dtype) for c, dtype in CLUSTER_SCHEMA.items())


def read_decisions(conn: psycopg.Connection) -> pl.DataFrame:
    """Every admin decision of ``app.curation_decisions``, in :data:`DECISION_SCHEMA`."""
    frame = query_frame(
        conn,
        "SELECT action, event_id, other_event_id, decided_at FROM app.curation_decisions "
        "ORDER BY decided_at, id",
    )
    if frame.width == 0 or frame.is_empty():
        return pl.DataFrame(schema=DECISION_SCHEMA)
    return frame.select(pl.col(c).cast(dtype) for c, dtype in DECISION_SCHEMA.items())


# The API's view of curation, rebuilt from curation.* in one transaction (DELETE, not TRUNCATE:
# readers keep their snapshot instead of waiting). Listings not (yet) in app.events are left
# out; they arrive with the next app catalogue.
_PUBLISH_EVENT_CURATION = """
DELETE FROM app.event_curation;
INSERT INTO app.event_curation (event_id, canonical_id, quality_score, flags, low_quality,
                                rejected, source_file)
SELECT c.event_id, c.canonical_id, coalesce(q.quality_score, 1.0), coalesce(q.flags, '{}'),
       coalesce(q.low_quality, false), coalesce(q.rejected, false), c.source_file
FROM curation.listing_clusters c
JOIN app.events e ON e.id = c.event_id
JOIN app.events canonical ON canonical.id = c.canonical_id
LEFT JOIN curation.listing_quality q ON q.event_id = c.event_id
"""

# Review items without a later decision about them: a decision made after an item was queued
# settles it, and the next batch does not queue it again.
_PUBLISH_QUEUE = """
WITH decided AS (
    SELECT event_id, other_event_id, action, max(decided_at) AS decided_at
    FROM app.curation_decisions GROUP BY event_id, other_event_id, action
), items AS (
    SELECT 'low_quality' AS kind, q.event_id, NULL::bigint AS other_event_id,
           q.quality_score AS score,
           (SELECT string_agg(f.flag || ': ' || f.evidence, '; ' ORDER BY f.flag)
            FROM curation.quality_flags f WHERE f.event_id = q.event_id) AS evidence
    FROM curation.listing_quality q
    WHERE q.low_quality AND NOT q.rejected
      AND NOT EXISTS (SELECT 1 FROM decided d WHERE d.event_id = q.event_id
                      AND d.action IN ('accept', 'reject'))
    UNION ALL
    SELECT 'uncertain_duplicate', l.event_id_l, l.event_id_r, l.match_probability,
           format('match probability %%s (merged at %%s or more): %%s',
                  round(l.match_probability::numeric, 3), %(threshold)s::text,
                  CASE WHEN cl.canonical_id = cr.canonical_id THEN 'merged' ELSE 'kept apart' END)
    FROM curation.listing_links l
    JOIN curation.listing_clusters cl ON cl.event_id = l.event_id_l
    JOIN curation.listing_clusters cr ON cr.event_id = l.event_id_r
    WHERE l.match_probability >= %(low)s AND l.match_probability < %(high)s
      AND NOT EXISTS (SELECT 1 FROM decided d
                      WHERE (d.action = 'split' AND d.event_id IN (l.event_id_l, l.event_id_r))
                         OR (d.action = 'merge'
                             AND least(d.event_id, d.other_event_id) = l.event_id_l
                             AND greatest(d.event_id, d.other_event_id) = l.event_id_r))
    UNION ALL
    SELECT 'low_confidence_category', c.event_id, NULL, c.confidence,
           format('predicted %%s with confidence %%s (%%s)', quote_literal(c.category),
                  round(c.confidence::numeric, 3), c.model_version)
    FROM curation.event_categories c
    WHERE c.low_confidence
      AND NOT EXISTS (SELECT 1 FROM decided d WHERE d.event_id = c.event_id
                      AND d.action IN ('accept', 'reject'))
)
INSERT INTO app.curation_queue (kind, event_id, other_event_id, score, evidence)
SELECT i.kind, i.event_id, i.other_event_id, i.score, i.evidence
FROM items i
JOIN app.events e ON e.id = i.event_id
WHERE i.evidence IS NOT NULL
  AND (i.other_event_id IS NULL
       OR EXISTS (SELECT 1 FROM app.events o WHERE o.id = i.other_event_id))
"""


def publish_to_app(
    conn: psycopg.Connection, *, threshold: float, uncertain: tuple[float, float]
) -> dict[str, int]:
    """Replace ``app.event_curation`` and ``app.curation_queue`` from ``curation.*``; the
    caller commits. Returns the rows written per table and per review kind."""
    conn.execute(_PUBLISH_EVENT_CURATION)
    conn.execute("DELETE FROM app.curation_queue")
    params = {"threshold": threshold, "low": uncertain[0], "high": uncertain[1]}
    conn.execute(_PUBLISH_QUEUE, params)
    counts = {
        "event_curation": conn.execute("SELECT count(*) FROM app.event_curation").fetchone()[0]
    }
    for kind, count in conn.execute("SELECT kind, count(*) FROM app.curation_queue GROUP BY kind"):
        counts[f"queue_{kind}"] = count
    return counts
