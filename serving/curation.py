"""Curation where the API shows it: the demotion of low quality in search, the other listings of
an event, the review queue and admins' decisions, with their SQL (which listings are listed and
which recommendable is in ``core.contracts``, shared with the batch). The batch
(``pipelines/curation``) writes ``app.event_curation`` and
``app.curation_queue``; an admin's decision is stored and applied here at once, and the next batch
applies it again over its own findings (``pipelines/curation/decisions.py``).

A listing without a curation row (created through the API after the last batch) is its own
canonical event and shown.
"""

from __future__ import annotations

from typing import Any, Literal

from psycopg import AsyncConnection

from serving.errors import ApiError, not_found

LOW_QUALITY = """EXISTS (SELECT 1 FROM app.event_curation c
                WHERE c.event_id = e.id AND c.low_quality)"""

# The other listings of an event's canonical event (the feeds that list it too).
SOURCES_SQL = """
    WITH me AS (
        SELECT coalesce((SELECT canonical_id FROM app.event_curation WHERE event_id = %(id)s),
                        %(id)s) AS canonical_id
    )
    SELECT me.canonical_id,
           coalesce(json_agg(json_build_object('event_id', c.event_id,
                                               'source_file', c.source_file,
                                               'external_id', e.external_id)
                             ORDER BY c.event_id)
                    FILTER (WHERE c.event_id IS NOT NULL), '[]') AS sources
    FROM me
    LEFT JOIN app.event_curation c ON c.canonical_id = me.canonical_id AND c.event_id <> %(id)s
    LEFT JOIN app.events e ON e.id = c.event_id
    GROUP BY me.canonical_id"""

ReviewKind = Literal["low_quality", "uncertain_duplicate", "low_confidence_category"]
Action = Literal["merge", "split", "accept", "reject"]

# The queue with the latest decision about each item: an item is open until an admin decides
# about it after it was queued.
QUEUE_SQL = """
    WITH items AS (
        SELECT q.kind, q.event_id, q.other_event_id, q.score, q.evidence, q.queued_at,
               e.title, o.title AS other_title, d.action AS decision,
               d.decided_at, d.decided_by
        FROM app.curation_queue q
        JOIN app.events e ON e.id = q.event_id
        LEFT JOIN app.events o ON o.id = q.other_event_id
        LEFT JOIN LATERAL (
            SELECT x.action, x.decided_at, x.decided_by FROM app.curation_decisions x
            WHERE CASE WHEN q.kind = 'uncertain_duplicate'
                  THEN (x.action = 'split' AND x.event_id IN (q.event_id, q.other_event_id))
                       OR (x.action = 'merge'
                           AND least(x.event_id, x.other_event_id)
                               = least(q.event_id, q.other_event_id)
                           AND greatest(x.event_id, x.other_event_id)
                               = greatest(q.event_id, q.other_event_id))
                  ELSE x.action IN ('accept', 'reject') AND x.event_id = q.event_id END
            ORDER BY x.decided_at DESC, x.id DESC LIMIT 1
        ) d ON true
        WHERE (%(kind)s::text IS NULL OR q.kind = %(kind)s)
    )
    SELECT * FROM items
    WHERE %(state)s = 'all'
       OR (%(state)s = 'open') = (decided_at IS NULL OR decided_at < queued_at)"""
QUEUE_PAGE_SQL = (
    QUEUE_SQL
    + """
    ORDER BY CASE kind WHEN 'uncertain_duplicate' THEN 0 WHEN 'low_quality' THEN 1 ELSE 2 END,
             score, event_id, other_event_id NULLS FIRST
    LIMIT %(limit)s OFFSET %(offset)s"""
)
QUEUE_COUNT_SQL = f"SELECT count(*) AS total FROM ({QUEUE_SQL}) counted"

# Decisions are applied one at a time: two admins merging overlapping clusters at once would
# otherwise each compute a canonical id from what the other is changing.
_LOCK_CURATION = "SELECT pg_advisory_xact_lock(hashtext('app.event_curation'))"

INSERT_DECISION_SQL = """
    INSERT INTO app.curation_decisions (action, event_id, other_event_id, note, decided_by)
    VALUES (%(action)s, %(event_id)s, %(other_event_id)s, %(note)s, %(decided_by)s)
    RETURNING id, action, event_id, other_event_id, note, decided_by, decided_at"""

# A listing never curated yet gets a row of its own first (its own canonical event, no flags).
_ENSURE_ROWS = """
    INSERT INTO app.event_curation (event_id, canonical_id, quality_score, low_quality)
    SELECT id, id, 1.0, false FROM app.events WHERE id = ANY(%(ids)s)
    ON CONFLICT (event_id) DO NOTHING"""

# Both clusters become one; its canonical event is the earliest-created member (lowest id on
# ties), the batch's own rule, so the next batch names it the same.
_MERGE = """
    WITH clusters AS (
        SELECT canonical_id FROM app.event_curation WHERE event_id = ANY(%(ids)s)
    ), members AS (
        SELECT c.event_id, e.created_at FROM app.event_curation c
        JOIN app.events e ON e.id = c.event_id
        WHERE c.canonical_id IN (SELECT canonical_id FROM clusters)
    ), canonical AS (
        SELECT event_id FROM members ORDER BY created_at, event_id LIMIT 1
    )
    UPDATE app.event_curation c SET canonical_id = (SELECT event_id FROM canonical),
                                     curated_at = now()
    WHERE c.event_id IN (SELECT event_id FROM members)"""

# The listing leaves its cluster; if it was the cluster's canonical event, the earliest-created
# of the others takes its place.
_SPLIT_REST = """
    WITH rest AS (
        SELECT c.event_id, e.created_at FROM app.event_curation c
        JOIN app.events e ON e.id = c.event_id
        WHERE c.canonical_id = %(id)s AND c.event_id <> %(id)s
    ), canonical AS (
        SELECT event_id FROM rest ORDER BY created_at, event_id LIMIT 1
    )
    UPDATE app.event_curation c SET canonical_id = (SELECT event_id FROM canonical),
                                     curated_at = now()
    WHERE c.event_id IN (SELECT event_id FROM rest)"""
_SPLIT_SELF = """
    UPDATE app.event_curation SET canonical_id = event_id, curated_at = now()
    WHERE event_id = %(id)s"""

_VERDICT = """
    UPDATE app.event_curation SET low_quality = %(low_quality)s, rejected = %(rejected)s,
                                  curated_at = now()
    WHERE event_id = %(id)s"""

_EXISTING_EVENTS = "SELECT id FROM app.events WHERE id = ANY(%(ids)s)"


async def record_decision(
    conn: AsyncConnection[Any],
    *,
    action: Action,
    event_id: int,
    other_event_id: int | None,
    note: str | None,
    decided_by: int | None,
) -> dict[str, Any]:
    """Store an admin's decision and apply it to ``app.event_curation`` in one transaction.

    ``merge`` needs ``other_event_id`` (the same real event) and the other actions refuse it.
    Unknown events are a 404.
    """
    if (action == "merge") != (other_event_id is not None):
        wrong = "merge needs" if action == "merge" else f"{action} takes no"
        raise ApiError(422, "validation_error", f"{wrong} other_event_id")
    if other_event_id == event_id:
        raise ApiError(422, "validation_error", "an event cannot be merged with itself")
    ids = [event_id] if other_event_id is None else [event_id, other_event_id]
    async with conn.transaction():
        await conn.execute(_LOCK_CURATION)
        cursor = await conn.execute(_EXISTING_EVENTS, {"ids": ids})
        found = {row["id"] for row in await cursor.fetchall()}
        missing = [i for i in ids if i not in found]
        if missing:
            raise not_found(f"event {missing[0]}")
        await conn.execute(_ENSURE_ROWS, {"ids": ids})
        if action == "merge":
            await conn.execute(_MERGE, {"ids": ids})
        elif action == "split":
            await conn.execute(_SPLIT_REST, {"id": event_id})
            await conn.execute(_SPLIT_SELF, {"id": event_id})
        else:
            rejected = action == "reject"
            await conn.execute(
                _VERDICT, {"id": event_id, "low_quality": rejected, "rejected": rejected}
            )
        cursor = await conn.execute(
            INSERT_DECISION_SQL,
            {
                "action": action,
                "event_id": event_id,
                "other_event_id": other_event_id,
                "note": note,
                "decided_by": decided_by,
            },
        )
        decision = await cursor.fetchone()
    assert decision is not None
    return decision
