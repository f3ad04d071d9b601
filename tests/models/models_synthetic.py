"""Small synthetic events marketplace for the recommendation tests and benchmarks.

Users have hidden category tastes and a home city; events have a category, tags, a city, a price
and a start time. Users mostly interact with events of their favourite categories in their own
city, before the event starts, and better events draw more people. Fully vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

CATEGORIES = ("music", "tech", "sports", "food", "art", "theatre", "family", "outdoors")
CITIES = {
    "lisbon": (38.72, -9.14),
    "porto": (41.15, -8.61),
    "madrid": (40.42, -3.70),
    "paris": (48.86, 2.35),
    "berlin": (52.52, 13.40),
}
VOCAB = {
    "music": ("concert", "band", "jazz", "rock", "live", "dj"),
    "tech": ("python", "data", "ai", "startup", "cloud", "meetup"),
    "sports": ("run", "football", "yoga", "marathon", "cycling", "match"),
    "food": ("tasting", "wine", "street", "vegan", "chef", "market"),
    "art": ("gallery", "painting", "exhibition", "photo", "design", "sculpture"),
    "theatre": ("play", "drama", "comedy", "stage", "improv", "opera"),
    "family": ("kids", "workshop", "puppet", "zoo", "science", "games"),
    "outdoors": ("hike", "trail", "kayak", "camping", "nature", "climb"),
}
START = datetime(2025, 1, 1, tzinfo=UTC)
_START64 = np.datetime64("2025-01-01T00:00:00", "us")
WEIGHTS = np.array([1.0, 2.0, 6.0, 4.0])  # view, click, register, favorite
TYPE_P = np.array([0.6, 0.2, 0.15, 0.05])


@dataclass
class EventsData:
    interactions: pl.DataFrame
    items: pl.DataFrame
    users: pl.DataFrame


def make_events_dataset(
    n_users: int = 300,
    n_items: int = 400,
    n_interactions: int = 8000,
    days: int = 120,
    seed: int = 0,
) -> EventsData:
    """Users, events and interactions with learnable taste, place and quality structure."""
    rng = np.random.default_rng(seed)
    n_cat, city_names = len(CATEGORIES), list(CITIES)
    n_city = len(city_names)
    coords = np.array([CITIES[c] for c in city_names])

    taste = rng.dirichlet(np.full(n_cat, 0.3), size=n_users)
    home = rng.integers(0, n_city, size=n_users)
    activity = rng.lognormal(0.0, 0.8, size=n_users)

    combos = np.arange(n_cat * n_city)
    group = np.concatenate([combos, rng.integers(0, n_cat * n_city, n_items - combos.size)])
    group = group[: max(n_items, combos.size)]
    n_items = group.size
    category, city = group // n_city, group % n_city
    quality = rng.lognormal(0.0, 1.0, size=n_items)
    start_days = rng.uniform(10, days, size=n_items)
    price = np.round(rng.lognormal(3.0, 0.8, size=n_items) * (rng.random(n_items) > 0.15), 2)

    # Items sorted by group, cumulative quality per group, for vectorised weighted draws.
    order = np.argsort(group, kind="stable")
    sorted_quality = quality[order]
    cum = np.cumsum(sorted_quality)
    group_sorted = group[order]
    first = np.searchsorted(group_sorted, combos)
    last = np.searchsorted(group_sorted, combos, side="right")
    base = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    total = cum[last - 1] - base

    users = rng.choice(n_users, size=n_interactions, p=activity / activity.sum())
    cat_cum = np.cumsum(taste[users], axis=1)
    cat = np.minimum((rng.random(n_interactions)[:, None] > cat_cum).sum(axis=1), n_cat - 1)
    local = rng.random(n_interactions) < 0.85
    where = np.where(local, home[users], rng.integers(0, n_city, size=n_interactions))
    g = cat * n_city + where
    pick = np.searchsorted(cum, base[g] + rng.random(n_interactions) * total[g], side="right")
    item = order[np.minimum(pick, n_items - 1)]

    lead_days = rng.exponential(10.0, size=n_interactions)
    ts_days = np.maximum(start_days[item] - lead_days, 0.0)
    types = rng.choice(4, size=n_interactions, p=TYPE_P)

    interactions = pl.DataFrame(
        {
            "user_id": (users + 1).astype(np.int64),
            "item_id": (item + 1000).astype(np.int64),
            "weight": WEIGHTS[types],
            "timestamp": _START64 + pd_days(ts_days),
        }
    ).with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))
    words = np.array([VOCAB[c] for c in CATEGORIES])
    first_word = words[category, rng.integers(0, 6, size=n_items)]
    second_word = words[category, rng.integers(0, 6, size=n_items)]
    category_name = np.array(CATEGORIES)[category]
    city_name = np.array(city_names)[city]
    items = pl.DataFrame(
        {
            "item_id": (np.arange(n_items) + 1000).astype(np.int64),
            "title": np.char.add(np.char.add(first_word, " "), second_word),
            "description": np.char.add(np.char.add(category_name, " event in "), city_name),
            "category": category_name,
            "tags": np.stack([first_word, second_word], axis=1).tolist(),
            "city": city_name,
            "lat": coords[city, 0] + rng.normal(0, 0.02, n_items),
            "lng": coords[city, 1] + rng.normal(0, 0.02, n_items),
            "price": price,
            "starts_at": _START64 + pd_days(start_days),
        }
    ).with_columns(pl.col("starts_at").dt.replace_time_zone("UTC"))
    top2 = np.argsort(-taste, axis=1)[:, :2]
    users_frame = pl.DataFrame(
        {
            "user_id": (np.arange(n_users) + 1).astype(np.int64),
            "home_city": np.array(city_names)[home],
            "home_lat": coords[home, 0],
            "home_lng": coords[home, 1],
            "interests": np.array(CATEGORIES)[top2].tolist(),
        }
    )
    return EventsData(interactions, items, users_frame)


def pd_days(values: np.ndarray) -> np.ndarray:
    """Day offsets as numpy timedelta64 (microseconds), to add to a start datetime."""
    return (np.asarray(values) * 86400e6).astype("timedelta64[us]")
