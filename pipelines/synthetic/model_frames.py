"""The synthetic world in the recommendation library's conventions, in memory or as files.

The same world the landing zone holds, without the database in between: interactions as one
row per user x event with a positive interaction, items with the organiser, series and venue
columns, and users, optionally with alphanumeric string ids as partner data has them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from core.contracts import INTERACTION_WEIGHTS
from pipelines.synthetic.interactions import make_interactions
from pipelines.synthetic.spec import GenerationSpec
from pipelines.synthetic.world import alnum_ids, make_events, make_users

ITEM_COLUMNS = (
    "item_id",
    "title",
    "description",
    "category",
    "tags",
    "city",
    "lat",
    "lng",
    "price",
    "starts_at",
    "created_at",
    "organizer_id",
    "series_id",
    "venue_id",
    "status",
)
# Prefix of the string form of each kind of id: users, items, organisers, series, venues.
ID_PREFIXES = {
    "user_id": "u",
    "item_id": "e",
    "organizer_id": "g",
    "series_id": "s",
    "venue_id": "v",
}


def positive_interactions(interactions: pl.DataFrame) -> pl.DataFrame:
    """One row per user x event with a positive interaction: the weight of the strongest type
    (``core.contracts.INTERACTION_WEIGHTS``) and the time of the first positive interaction;
    dismissals are no positive and are left out."""
    positive = {t: w for t, w in INTERACTION_WEIGHTS.items() if w > 0}
    return (
        interactions.filter(pl.col("type").is_in(list(positive)))
        .group_by("user_id", "event_id")
        .agg(
            pl.col("type").replace_strict(positive, return_dtype=pl.Float64).max().alias("weight"),
            pl.col("timestamp").min(),
        )
        .rename({"event_id": "item_id"})
        .sort("timestamp", "user_id", "item_id")
    )


def _as_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Integer id columns as alphanumeric strings (nulls stay null)."""
    return frame.with_columns(
        alnum_ids(prefix, frame[column].fill_null(0).to_numpy())
        .set(frame[column].is_null(), None)
        .alias(column)
        for column, prefix in ID_PREFIXES.items()
        if column in frame.columns
    )


def model_frames(
    spec: GenerationSpec, *, string_ids: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(interactions, items, users) of the world for ``models``.

    interactions: ``user_id, item_id, weight, timestamp``; items: ``item_id, title, description,
    category, tags, city, lat, lng, price, starts_at, created_at, organizer_id, series_id,
    venue_id, status`` (timestamps in UTC, the landed nulls kept); users: ``user_id, home_city,
    home_lat, home_lng, interests``. With ``string_ids`` every id column is an alphanumeric
    string (``"e0k3c9x2a"``), the same code for the same id.
    """
    interactions = positive_interactions(make_interactions(spec))
    items = make_events(spec).rename({"event_id": "item_id"}).select(ITEM_COLUMNS)
    users = make_users(spec).select("user_id", "home_city", "home_lat", "home_lng", "interests")
    if string_ids:
        interactions, items, users = (_as_strings(f) for f in (interactions, items, users))
    return interactions, items, users


def write_model_files(spec: GenerationSpec, out_dir: Path) -> dict[str, int]:
    """Write ``items.parquet``, ``interactions.parquet`` and ``users.parquet`` with string ids
    into ``out_dir`` (the inputs of ``python -m models.evaluate``); rows per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    interactions, items, users = model_frames(spec, string_ids=True)
    rows: dict[str, int] = {}
    for name, frame in (("interactions", interactions), ("items", items), ("users", users)):
        path = out_dir / f"{name}.parquet"
        partial = path.with_name(f".{path.name}.partial")
        frame.write_parquet(partial)
        partial.replace(path)
        rows[path.name] = frame.height
    return rows
