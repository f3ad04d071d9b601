"""Train/test splits for offline evaluation; each returns ``(train, test)``."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from models.matrix import id_column, prepare_interactions, to_utc


def _stratified(
    interactions: pl.DataFrame, by: str, ratio: float, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per group of ``by``, shuffle its rows with ``seed`` and keep the first ``ratio`` in train.

    Reproduces ``python_stratified_split`` of recommenders-team/recommenders exactly: one uniform
    draw per row in input order (legacy ``np.random.seed`` stream), rows sorted by group then
    draw, and a row goes to train when its rank / group size is at most ``ratio``.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    draws = np.random.RandomState(seed).rand(interactions.height)
    ranked = (
        interactions.with_columns(pl.Series("__draw", draws))
        .sort([by, "__draw"])
        .with_columns(
            (
                (pl.int_range(pl.len()).over(by) + 1).cast(pl.Float64)
                / pl.len().over(by).cast(pl.Float64)
            ).alias("__rank")
        )
    )
    train = ranked.filter(pl.col("__rank") <= ratio).drop("__draw", "__rank")
    test = ranked.filter(pl.col("__rank") > ratio).drop("__draw", "__rank")
    return train, test


def stratified_by_item(
    interactions: pl.DataFrame, ratio: float = 0.75, seed: int = 42
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per item, a random ``ratio`` of its interactions goes to train (the MovieLens benchmark
    protocol of recommenders-team/recommenders, ``filter_by="item"``)."""
    return _stratified(interactions, "item_id", ratio, seed)


def random_by_user(
    interactions: pl.DataFrame, ratio: float = 0.75, seed: int = 42
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per user, a random ``ratio`` of their interactions goes to train: every user is in both."""
    return _stratified(interactions, "user_id", ratio, seed)


def default_cutoff(interactions: pl.DataFrame, ratio: float = 0.8) -> datetime:
    """The timestamp before which ``ratio`` of the interactions happened."""
    timestamps = to_utc(interactions["timestamp"]).sort()
    index = min(int(np.floor(ratio * timestamps.len())), timestamps.len() - 1)
    return timestamps[index]


def temporal(
    interactions: pl.DataFrame, cutoff: datetime | None = None, ratio: float = 0.8
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Global time cut-off: train is everything before it, test everything from it on.

    Mimics deployment (train on the past, serve the future); by default the cut-off leaves
    ``ratio`` of the interactions in train.
    """
    interactions = prepare_interactions(interactions)
    cutoff = cutoff or default_cutoff(interactions, ratio)
    before = pl.col("timestamp") < pl.lit(cutoff)
    return interactions.filter(before), interactions.filter(~before)


def future_events(
    interactions: pl.DataFrame,
    items: pl.DataFrame,
    cutoff: datetime | None = None,
    ratio: float = 0.8,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train on interactions before the cut-off; test on later interactions with events that
    start after it.

    This is the events marketplace's real question: at time T, which upcoming events will each
    user engage with? Every test event starts after T and many have no interaction before T
    (cold items). Later interactions with events that had already started are dropped.
    """
    interactions = prepare_interactions(interactions)
    if "starts_at" not in items.columns:
        raise ValueError("future_events needs items with a starts_at column")
    cutoff = cutoff or default_cutoff(interactions, ratio)
    starts = items.select(
        id_column(items, "item_id"), to_utc(items["starts_at"]).alias("__starts_at")
    ).unique("item_id", keep="first")
    before = pl.col("timestamp") < pl.lit(cutoff)
    train = interactions.filter(before)
    test = (
        interactions.filter(~before)
        .join(starts, on="item_id", how="inner")
        .filter(pl.col("__starts_at") > pl.lit(cutoff))
        .drop("__starts_at")
    )
    return train, test
