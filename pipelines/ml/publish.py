"""Publishing batch results into ``serving.*``: build fresh copies, then swap them in at once.

Readers (the API) see either the previous complete set or the new complete set: the copies are
filled beside the live tables and renamed in one short transaction. A failure before the swap
drops the copies and leaves the previous set serving.
"""

from __future__ import annotations

import polars as pl
import psycopg
from psycopg import sql

from core.contracts import CURATION_RECOMMENDABLE, RECOMMENDATIONS_CHANGED_CHANNEL
from pipelines.kernel.copy import copy_into

SERVING_TABLES = ("user_recommendations", "similar_events", "popular_events")

# Reasons are worded at publish time, set-based in SQL. A model that explains itself gives the
# signal that lifted each recommendation most and the user's past event behind it (the latest
# of the same series, organiser or venue): "Because you went to Python Meetup #41". Otherwise,
# and for signals without such evidence, from facts about the user and the event: the latest
# event of the same category the user attended (or registered for), else a declared interest,
# else their home city.
_INSERT_WITH_REASONS = """
WITH engaged AS (
    SELECT DISTINCT ON (i.user_id, e.category) i.user_id, e.category, e.title, i.type
    FROM raw.interactions AS i
    JOIN app.events AS e ON e.id = i.event_id
    WHERE i.type IN ('attend', 'register')
    ORDER BY i.user_id, e.category, (i.type = 'attend') DESC, i.occurred_at DESC
)
INSERT INTO serving.user_recommendations_next (user_id, rank, event_id, score, reason,
                                               model_version)
SELECT r.user_id, r.rank, r.event_id, r.score,
       CASE
           WHEN r.signal = 'series_count' AND b.title IS NOT NULL
               THEN 'Because you went to ' || b.title
           WHEN r.signal IN ('organizer_share', 'organizer_count') AND b.title IS NOT NULL
               THEN 'From the organiser of ' || b.title || ', whose events you go to'
           WHEN r.signal = 'venue_share' AND e.venue_name IS NOT NULL
               THEN 'At ' || e.venue_name || ', where you often go'
           WHEN r.signal = 'proximity' AND e.city IS NOT NULL
               THEN 'Near where you usually go, in ' || e.city
           WHEN r.signal = 'slot_lift'
               THEN 'On a ' || trim(to_char(e.starts_at, 'Day')) || ', when you usually go out'
           WHEN r.signal IN ('text', 'topics') AND g.title IS NOT NULL
               THEN 'Like ' || g.title || ', which you went to'
           WHEN r.signal IN ('popularity', 'popularity_rate') THEN 'Filling up fast'
           WHEN g.type = 'attend' THEN 'Because you attended ' || g.title
           WHEN g.type = 'register' THEN 'Because you registered for ' || g.title
           WHEN e.category = ANY (u.interests) THEN 'Matches your interest in ' || e.category
           WHEN e.city = u.home_city THEN 'Popular near you in ' || e.city
           ELSE 'Recommended for you'
       END,
       r.model_version
FROM scored_recommendations AS r
JOIN app.events AS e ON e.id = r.event_id
LEFT JOIN app.events AS b ON b.id = r.because_event_id
LEFT JOIN app.users AS u ON u.id = r.user_id
LEFT JOIN engaged AS g ON g.user_id = r.user_id AND g.category = e.category
"""

# The events the model scores: published, upcoming and kept in by curation.
CANDIDATES_SQL = f"""
SELECT e.id FROM app.events e
WHERE e.status = 'published' AND e.starts_at > now() AND {CURATION_RECOMMENDABLE}
ORDER BY e.id"""

# Popular upcoming events overall, per city and per category, from the popularity mart.
_POPULAR = f"""
INSERT INTO serving.popular_events_next (scope, scope_value, rank, event_id, score, model_version)
SELECT scope, scope_value, rank, event_id, score, %(version)s
FROM (
    SELECT s.scope, s.scope_value, e.id AS event_id, p.popularity_score AS score,
           row_number() OVER (PARTITION BY s.scope, s.scope_value
                              ORDER BY p.popularity_score DESC, e.id) AS rank
    FROM app.events AS e
    JOIN marts.mart_event_popularity AS p ON p.event_id = e.id
    CROSS JOIN LATERAL (VALUES ('global', ''), ('city', coalesce(e.city, '')),
                               ('category', coalesce(e.category, ''))) AS s (scope, scope_value)
    WHERE e.status = 'published' AND e.starts_at > now() AND {CURATION_RECOMMENDABLE}
) AS ranked
WHERE rank <= %(k)s
"""


def create_next_tables(conn: psycopg.Connection) -> None:
    """Empty ``<table>_next`` copies of the serving tables, shaped like the live ones."""
    for table in SERVING_TABLES:
        nxt = sql.Identifier("serving", f"{table}_next")
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(nxt))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                nxt, sql.Identifier("serving", table)
            )
        )


def fill_next_tables(
    conn: psycopg.Connection,
    recommendations: pl.DataFrame,
    similar: pl.DataFrame,
    model_version: str,
    k: int,
) -> dict[str, int]:
    """COPY the model's output into the ``_next`` tables, with reasons, and the popular lists.

    ``recommendations`` may carry ``reason`` (the signal that lifted it most) and
    ``because_item_id`` (the user's past event behind it), as ``EventRanker.explain`` gives.
    """
    explained = {"reason", "because_item_id"} <= set(recommendations.columns)
    recs = recommendations.select(
        "user_id",
        "rank",
        pl.col("item_id").alias("event_id"),
        "score",
        pl.lit(model_version).alias("model_version"),
        (pl.col("reason") if explained else pl.lit(None, pl.String)).alias("signal"),
        (pl.col("because_item_id") if explained else pl.lit(None, pl.Int64)).alias(
            "because_event_id"
        ),
    )
    sims = similar.select(
        pl.col("item_id").alias("event_id"),
        "rank",
        pl.col("similar_item_id").alias("similar_event_id"),
        "score",
        pl.lit(model_version).alias("model_version"),
    )
    conn.execute(
        "CREATE TEMP TABLE scored_recommendations (LIKE serving.user_recommendations, "
        "signal text, because_event_id bigint) ON COMMIT DROP"
    )
    copy_into(conn, sql.Identifier("scored_recommendations"), recs)
    counts = {
        "user_recommendations": conn.execute(_INSERT_WITH_REASONS).rowcount,
        "similar_events": copy_into(conn, sql.Identifier("serving", "similar_events_next"), sims),
    }
    counts["popular_events"] = conn.execute(_POPULAR, {"version": model_version, "k": k}).rowcount
    return counts


def swap_in_next_tables(conn: psycopg.Connection) -> None:
    """Rename every ``_next`` table over its live one, in the caller's (short) transaction.

    The API's workers are told at commit to drop the answers they built from the old set.
    """
    conn.execute("SELECT pg_notify(%s, '*')", [RECOMMENDATIONS_CHANGED_CHANNEL])
    for table in SERVING_TABLES:
        live = sql.Identifier("serving", table)
        conn.execute(sql.SQL("DROP TABLE {}").format(live))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier("serving", f"{table}_next"), sql.Identifier(table)
            )
        )
