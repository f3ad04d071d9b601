"""Admins' curation decisions (``app.curation_decisions``) applied over a batch's own findings.

A split listing keeps none of the batch's links (it is an event of its own) but keeps the links
an admin made by merging it afterwards; a merge links two listings whatever the batch scored
them. For quality the latest verdict wins: an accepted listing is never low quality, a rejected
one always is.
"""

from __future__ import annotations

import polars as pl

DECISION_SCHEMA: dict[str, pl.DataType] = {
    "action": pl.String(),
    "event_id": pl.Int64(),
    "other_event_id": pl.Int64(),
    "decided_at": pl.Datetime("us", "UTC"),
}
CLUSTERING = ("merge", "split")
QUALITY = ("accept", "reject")


def _latest(decisions: pl.DataFrame, actions: tuple[str, ...]) -> pl.DataFrame:
    """The latest decision among ``actions`` of each listing (ties: the later-listed row)."""
    return (
        decisions.with_row_index("_order")
        .filter(pl.col("action").is_in(actions))
        .sort("decided_at", "_order")
        .group_by("event_id", maintain_order=True)
        .last()
        .drop("_order")
    )


def apply_to_links(pairs: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """The batch's scored ``pairs`` with split listings' links removed and merges added.

    A listing an admin ever split keeps none of the batch's links; a merge counts unless one of
    its two listings was split after it. Merges come back with ``match_probability`` 1.0 and a
    null ``match_weight``; pairs keep ``event_id_l < event_id_r``.
    """
    last_split = (
        decisions.filter(pl.col("action") == "split")
        .group_by("event_id")
        .agg(pl.col("decided_at").max().alias("split_at"))
    )
    split = last_split["event_id"]
    kept = pairs.filter(~pl.col("event_id_l").is_in(split) & ~pl.col("event_id_r").is_in(split))
    merges = (
        decisions.filter(pl.col("action") == "merge")
        .join(last_split, on="event_id", how="left")
        .join(
            last_split.rename({"event_id": "other_event_id", "split_at": "other_split_at"}),
            on="other_event_id",
            how="left",
        )
        .filter(
            (pl.col("split_at").is_null() | (pl.col("decided_at") > pl.col("split_at")))
            & (
                pl.col("other_split_at").is_null()
                | (pl.col("decided_at") > pl.col("other_split_at"))
            )
        )
        .select(
            pl.min_horizontal("event_id", "other_event_id").alias("event_id_l"),
            pl.max_horizontal("event_id", "other_event_id").alias("event_id_r"),
            pl.lit(1.0).alias("match_probability"),
            pl.lit(None, dtype=pl.Float64).alias("match_weight"),
        )
    )
    merged = pl.concat([kept.select(merges.columns), merges], how="vertical_relaxed")
    return (
        merged.sort("match_probability", descending=True)
        .unique(["event_id_l", "event_id_r"], keep="first")
        .sort("event_id_l", "event_id_r")
    )


def apply_to_quality(scores: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """``scores`` (``event_id``, ``low_quality``, ...) with admins' verdicts: ``low_quality``
    forced by accept (false) or reject (true), and ``rejected`` set for rejected listings."""
    latest = _latest(decisions, QUALITY).select("event_id", verdict="action")
    return (
        scores.join(latest, on="event_id", how="left")
        .with_columns(
            pl.when(pl.col("verdict") == "accept")
            .then(False)
            .when(pl.col("verdict") == "reject")
            .then(True)
            .otherwise(pl.col("low_quality"))
            .alias("low_quality"),
            (pl.col("verdict") == "reject").fill_null(False).alias("rejected"),
        )
        .drop("verdict")
    )
