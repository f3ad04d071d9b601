"""Users and the event catalogue of the synthetic world, with the hidden state behind them.

Each random quantity comes from its own numpy stream seeded by ``(seed, stream)``, so a table can
be rebuilt on its own (tests, benchmarks) and still match the one written with the others. The
hidden state (tastes, home cities, activity, popularity) is what the interaction model draws
from; only part of it is visible in the landed files, as a real platform would see it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from string import Formatter

import numpy as np
import polars as pl

from pipelines.synthetic.spec import GenerationSpec
from pipelines.synthetic.vocabulary import (
    ALL_TAGS,
    CATEGORIES,
    CATEGORY_NAMES,
    CITIES,
    CURRENCY_PER_EUR,
    FIRST_NAMES,
    LAST_NAMES,
    TAG_INDEX,
    TOPIC_TAGS,
    VENUE_NAMES,
)

N_CATEGORIES = len(CATEGORIES)
N_CITIES = len(CITIES)
N_TOPICS = len(CATEGORIES[0].topics)
CITY_NAMES: tuple[str, ...] = tuple(c[0] for c in CITIES)
CITY_LAT = np.array([c[2] for c in CITIES])
CITY_LNG = np.array([c[3] for c in CITIES])
CITY_CURRENCY: tuple[str, ...] = tuple(c[4] for c in CITIES)
CITY_POPULATION = np.array([c[5] for c in CITIES])
# Tag index of topic t of category c: the tags a taste can be about.
TOPIC_TAG_INDEX = np.array([[TAG_INDEX[t] for t in tags] for tags in TOPIC_TAGS], dtype=np.int16)
# How common each category is in the catalogue (meetups abound, festivals are rare).
CATEGORY_SHARE = np.array([6, 18, 13, 11, 3, 8, 9, 3, 7, 7, 9, 6], dtype=float)
# Mean days between publication and start for interactions, per category: people look at
# festivals weeks ahead, at meetups in the last days.
LEAD_DAYS = np.array([30, 7, 12, 25, 35, 15, 7, 20, 14, 20, 10, 6], dtype=float)
START_HOUR = np.array([9, 18, 10, 19, 12, 9, 18, 9, 10, 19, 18, 8])

_STREAM_USERS, _STREAM_TASTES, _STREAM_EVENTS, _STREAM_TEXT = 1, 2, 3, 4
STREAM_INTERACTIONS = 5

assert len(CATEGORY_SHARE) == len(LEAD_DAYS) == len(START_HOUR) == N_CATEGORIES
assert all(len(c.topics) == N_TOPICS for c in CATEGORIES)


def rng_for(spec: GenerationSpec, *stream: int) -> np.random.Generator:
    """An independent random stream of the world: same seed and stream, same numbers."""
    return np.random.default_rng([spec.seed, *stream])


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _pick(values: tuple[str, ...] | list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(index)


def _epoch(seconds: np.ndarray) -> pl.Series:
    """Unix seconds as a UTC datetime column."""
    return pl.from_epoch(pl.Series(seconds, dtype=pl.Int64), time_unit="s").dt.replace_time_zone(
        "UTC"
    )


def tag_lists(tags: np.ndarray) -> pl.Series:
    """A (rows, slots) matrix of tag indices, -1 padded, as a list-of-names column."""
    names = pl.Series(list(ALL_TAGS), dtype=pl.String)
    slots = pl.DataFrame(
        {
            f"t{k}": names.gather(np.maximum(tags[:, k], 0).astype(np.int32)).set(
                pl.Series(tags[:, k] < 0), None
            )
            for k in range(tags.shape[1])
        }
    )
    return slots.select(pl.concat_list(pl.all()).list.drop_nulls().alias("tags")).to_series()


@dataclass(frozen=True)
class UserState:
    """Hidden truth about users: what the interaction model draws from.

    ``taste`` is a preference distribution over categories (rows sum to 1); ``favorite_tags``
    holds three tag indices (into ``ALL_TAGS``) a user responds to; ``activity`` scales how often
    a user shows up at all (zero for registered-but-idle accounts).
    """

    home: np.ndarray
    taste: np.ndarray
    favorite_tags: np.ndarray
    activity: np.ndarray
    role: np.ndarray
    created_s: np.ndarray


@lru_cache(maxsize=2)
def user_state(spec: GenerationSpec) -> UserState:
    """The hidden state of every user (index ``i`` is user ``i + 1``)."""
    n = spec.users
    rng = rng_for(spec, _STREAM_TASTES)
    home = rng.choice(N_CITIES, size=n, p=CITY_POPULATION / CITY_POPULATION.sum())
    # Peaked Dirichlet tastes mixed with the catalogue's category mix: most people care about a
    # couple of categories and glance at the rest.
    raw = rng.gamma(0.25, size=(n, N_CATEGORIES)) + 1e-9
    taste = 0.85 * raw / raw.sum(axis=1, keepdims=True)
    taste += 0.15 * CATEGORY_SHARE / CATEGORY_SHARE.sum()
    order = np.argsort(-taste, axis=1)
    top, second = order[:, 0], order[:, 1]
    favorite_tags = np.stack(
        [
            TOPIC_TAG_INDEX[top, rng.integers(0, N_TOPICS, n)],
            TOPIC_TAG_INDEX[top, rng.integers(0, N_TOPICS, n)],
            TOPIC_TAG_INDEX[second, rng.integers(0, N_TOPICS, n)],
        ],
        axis=1,
    )
    activity = rng.lognormal(0.0, 1.1, n) * (rng.random(n) >= 0.1)
    role = rng.choice(3, size=n, p=[0.9, 0.08, 0.02]).astype(np.int8)
    days_before = rng.uniform(1, 3 * 365, n)
    created_s = (spec.window_start_s - days_before * 86_400).astype(np.int64)
    state = UserState(home, taste, favorite_tags, activity, role, created_s)
    for array in (home, taste, favorite_tags, activity, role, created_s):
        array.setflags(write=False)
    return state


def make_users(spec: GenerationSpec) -> pl.DataFrame:
    """The users table as it lands (``users/users.csv``), numbered from 1.

    Interests reveal part of the hidden taste (the top category, some favourite tags), and a few
    users have no home location, as real sign-up forms leave them blank.
    """
    state = user_state(spec)
    n = spec.users
    rng = rng_for(spec, _STREAM_USERS)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    user_id = np.arange(1, n + 1, dtype=np.int64)
    first_ascii = [_ascii(x) for x in FIRST_NAMES]
    last_ascii = [_ascii(x) for x in LAST_NAMES]
    has_home = rng.random(n) >= 0.02
    lat = CITY_LAT[state.home] + rng.normal(0, 0.03, n)
    lng = CITY_LNG[state.home] + rng.normal(0, 0.05, n)
    top = np.argmax(state.taste, axis=1)
    show_category = rng.random(n) < 0.65
    show_tag_a = rng.random(n) < 0.5
    show_tag_b = rng.random(n) < 0.3
    updated_s = state.created_s + (
        rng.random(n) * (spec.now_s - state.created_s) * (rng.random(n) < 0.3)
    ).astype(np.int64)
    frame = pl.DataFrame(
        {
            "user_id": user_id,
            "first": _pick(FIRST_NAMES, first),
            "last": _pick(LAST_NAMES, last),
            "first_ascii": _pick(first_ascii, first),
            "last_ascii": _pick(last_ascii, last),
            "role": _pick(["attendee", "organizer", "admin"], state.role),
            "home_city": _pick(CITY_NAMES, state.home),
            "home_lat": np.round(lat, 5),
            "home_lng": np.round(lng, 5),
            "has_home": has_home,
            "i_cat": _pick(CATEGORY_NAMES, top),
            "i_tag_a": _pick(ALL_TAGS, state.favorite_tags[:, 0]),
            "i_tag_b": _pick(ALL_TAGS, state.favorite_tags[:, 2]),
            "show_cat": show_category,
            "show_a": show_tag_a,
            "show_b": show_tag_b,
            "created_at": _epoch(state.created_s),
            "updated_at": _epoch(updated_s),
        }
    )
    interests = pl.concat_list(
        pl.when(pl.col("show_cat")).then(pl.col("i_cat")),
        pl.when(pl.col("show_a")).then(pl.col("i_tag_a")),
        pl.when(pl.col("show_b") & (pl.col("i_tag_b") != pl.col("i_tag_a"))).then(
            pl.col("i_tag_b")
        ),
    ).list.drop_nulls()
    home = pl.col("has_home")
    return frame.select(
        "user_id",
        pl.format(
            "{}.{}{}@example.com", pl.col("first_ascii"), pl.col("last_ascii"), pl.col("user_id")
        ).alias("email"),
        pl.concat_str("first", "last", separator=" ").alias("name"),
        "role",
        pl.when(home).then(pl.col("home_city")).alias("home_city"),
        pl.when(home).then(pl.col("home_lat")).alias("home_lat"),
        pl.when(home).then(pl.col("home_lng")).alias("home_lng"),
        interests.alias("interests"),
        "created_at",
        "updated_at",
    )


@dataclass(frozen=True)
class EventState:
    """Hidden truth about events: popularity (Zipf-like, never shown) and the integer codes the
    interaction model works with, aligned with the rows of :func:`make_events`."""

    category: np.ndarray
    city: np.ndarray
    tags: np.ndarray  # (events, max tags) tag indices, -1 padded
    starts_s: np.ndarray
    ends_s: np.ndarray
    created_s: np.ndarray
    status: np.ndarray  # index into EVENT_STATUSES order: draft, published, cancelled, completed
    capacity: np.ndarray
    price: np.ndarray
    popularity: np.ndarray
    topic: np.ndarray  # topic index within the category (what the title is about)


STATUS_NAMES = ("draft", "published", "cancelled", "completed")
DRAFT, PUBLISHED, CANCELLED, COMPLETED = range(4)
_GLOBAL_TAG = {
    t: TAG_INDEX[t] for t in ("free", "weekend", "family-friendly", "outdoor", "beginners")
}


@lru_cache(maxsize=2)
def event_state(spec: GenerationSpec) -> EventState:
    """The hidden state and integer codes of every event (index ``i`` is event ``i + 1``)."""
    m = spec.events
    rng = rng_for(spec, _STREAM_EVENTS)
    now = spec.now_s
    category = rng.choice(N_CATEGORIES, size=m, p=CATEGORY_SHARE / CATEGORY_SHARE.sum())
    city = rng.choice(N_CITIES, size=m, p=CITY_POPULATION / CITY_POPULATION.sum())
    topic_p = 1.0 / np.sqrt(np.arange(1, N_TOPICS + 1))
    topic = rng.choice(N_TOPICS, size=m, p=topic_p / topic_p.sum())
    second = (topic + rng.integers(1, N_TOPICS, m)) % N_TOPICS
    third = (topic + rng.integers(1, N_TOPICS, m)) % N_TOPICS
    has_third = (rng.random(m) < 0.5) & (third != second)

    # Two thirds start within the history window, one third in the coming weeks.
    past = rng.random(m) < 2 / 3
    horizon_days = min(90, max(30, spec.days // 2))
    day = np.where(
        past,
        np.floor(rng.uniform(0, spec.days, m)) - spec.days,
        np.floor(rng.uniform(0, horizon_days, m)),
    ).astype(np.int64)
    minutes = (START_HOUR[category] + rng.integers(0, 3, m)) * 60 + 30 * rng.integers(0, 2, m)
    starts = now + day * 86_400 + minutes * 60
    # An event starting "today" before now is past; one later today is upcoming.
    lo_h = np.array([c.hours[0] for c in CATEGORIES])[category]
    hi_h = np.array([c.hours[1] for c in CATEGORIES])[category]
    duration_min = np.maximum(30, np.round(rng.uniform(lo_h, hi_h) * 2) * 30)
    ends = starts + duration_min.astype(np.int64) * 60
    lead_days = 7 + rng.exponential(40, m)
    created = np.minimum(starts - (lead_days * 86_400).astype(np.int64), now - 3600)
    created = np.minimum(created, starts - 3600)

    status = np.full(m, PUBLISHED, dtype=np.int8)
    upcoming = starts > now
    status[(~upcoming) & (ends <= now) & (rng.random(m) < 0.4)] = COMPLETED
    status[rng.random(m) < 0.04] = CANCELLED
    status[upcoming & (rng.random(m) < 0.05)] = DRAFT

    cap_median = np.array([c.capacity_median for c in CATEGORIES])[category]
    capacity = cap_median * rng.lognormal(0, 0.6, m)
    step = np.where(capacity < 50, 1, np.where(capacity < 500, 10, 100))
    capacity = np.maximum(5, np.round(capacity / step) * step).astype(np.int64)

    currency_rate = np.array([CURRENCY_PER_EUR[CITY_CURRENCY[c]] for c in range(N_CITIES)])[city]
    free = rng.random(m) < np.array([c.free_share for c in CATEGORIES])[category]
    price_eur = np.array([c.price_median_eur for c in CATEGORIES])[category]
    local = price_eur * rng.lognormal(0, 0.5, m) * currency_rate
    price_step = np.where(currency_rate > 3, 5.0, 0.5)
    price = np.where(free, 0.0, np.maximum(price_step, np.round(local / price_step) * price_step))

    weekday = ((starts // 86_400) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    outdoor_cats = np.isin(category, [CATEGORY_NAMES.index(c) for c in ("festival", "sports")])
    family_cats = np.isin(
        category, [CATEGORY_NAMES.index(c) for c in ("festival", "exhibition", "sports", "theatre")]
    )
    beginner_cats = np.isin(
        category, [CATEGORY_NAMES.index(c) for c in ("workshop", "wellness", "meetup")]
    )
    none = np.full(m, -1, dtype=np.int16)
    tags = np.stack(
        [
            TOPIC_TAG_INDEX[category, topic],
            TOPIC_TAG_INDEX[category, second],
            np.where(has_third, TOPIC_TAG_INDEX[category, third], none),
            np.where(price == 0, _GLOBAL_TAG["free"], none),
            np.where(weekday >= 5, _GLOBAL_TAG["weekend"], none),
            np.where(outdoor_cats & (rng.random(m) < 0.7), _GLOBAL_TAG["outdoor"], none),
            np.where(family_cats & (rng.random(m) < 0.3), _GLOBAL_TAG["family-friendly"], none),
            np.where(beginner_cats & (rng.random(m) < 0.3), _GLOBAL_TAG["beginners"], none),
        ],
        axis=1,
    ).astype(np.int16)

    rank = rng.permutation(m) + 1
    popularity = rank**-0.8 * rng.lognormal(0, 0.5, m) * (capacity / cap_median) ** 0.3
    state = EventState(
        category=category,
        city=city,
        tags=tags,
        starts_s=starts,
        ends_s=ends,
        created_s=created,
        status=status,
        capacity=capacity,
        price=price,
        popularity=popularity,
        topic=topic,
    )
    for array in vars(state).values():
        array.setflags(write=False)
    return state


def _template_expr(template: str) -> pl.Expr:
    """A title template such as ``"{city} {topic} Meetup: {hook}"`` as a concatenation."""
    parts: list[pl.Expr] = []
    for literal, slot, _, _ in Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if slot:
            parts.append(pl.col(slot))
    return pl.concat_str(parts)


def _title_expr() -> pl.Expr:
    """Each row's title from its category's template (one branch per template, first match)."""
    branches = [
        pl.when((pl.col("_cat") == c) & (pl.col("_template") == t)).then(_template_expr(template))
        for c, category in enumerate(CATEGORIES)
        for t, template in enumerate(category.title_templates)
    ]
    return pl.coalesce(branches)


_EXTRAS = (
    "Doors open 30 minutes before the start.",
    "Places are limited, so register early.",
    "The venue is step-free; contact the organiser with any access needs.",
    "The programme is in English.",
    "Refreshments are included.",
    "Bring a friend!",
    "Follow the organiser for future dates.",
)


def make_events(spec: GenerationSpec) -> pl.DataFrame:
    """The event catalogue as it lands, numbered from 1, with titles and descriptions from
    per-category templates, so that text-based models have real signal to find."""
    state = event_state(spec)
    topic = state.topic
    m = spec.events
    rng = rng_for(spec, _STREAM_TEXT)
    n_templates = np.array([len(c.title_templates) for c in CATEGORIES])[state.category]
    n_hooks = np.array([len(c.hooks) for c in CATEGORIES])[state.category]
    n_venues = np.array([len(c.venue_types) for c in CATEGORIES])[state.category]
    n_acts = np.array([len(c.activities) for c in CATEGORIES])[state.category]
    flat_topics = [t for c in CATEGORIES for t in c.topics]
    hooks_per = max(len(c.hooks) for c in CATEGORIES)
    flat_hooks = [
        c.hooks[i] if i < len(c.hooks) else "" for c in CATEGORIES for i in range(hooks_per)
    ]
    venues_per = max(len(c.venue_types) for c in CATEGORIES)
    flat_venues = [
        c.venue_types[i] if i < len(c.venue_types) else ""
        for c in CATEGORIES
        for i in range(venues_per)
    ]
    acts_per = max(len(c.activities) for c in CATEGORIES)
    flat_acts = [
        c.activities[i] if i < len(c.activities) else ""
        for c in CATEGORIES
        for i in range(acts_per)
    ]
    template = (rng.random(m) * n_templates).astype(np.int64)
    hook = state.category * hooks_per + (rng.random(m) * n_hooks).astype(np.int64)
    venue_type = state.category * venues_per + (rng.random(m) * n_venues).astype(np.int64)
    activity = state.category * acts_per + (rng.random(m) * n_acts).astype(np.int64)
    venue_name = rng.integers(0, len(VENUE_NAMES), m)
    extra = rng.integers(0, len(_EXTRAS), m)
    series_no = rng.integers(2, 60, m)
    year = (state.starts_s // 86_400 * 86_400).astype("datetime64[s]").astype("datetime64[Y]")
    year_str = year.astype(int) + 1970

    organizer = _organizers(spec, state, rng)
    lat = CITY_LAT[state.city] + rng.normal(0, 0.02, m)
    lng = CITY_LNG[state.city] + rng.normal(0, 0.03, m)
    now = spec.now_s
    updated = state.created_s + (rng.random(m) * (now - state.created_s)).astype(np.int64)

    frame = pl.DataFrame(
        {
            "event_id": np.arange(1, m + 1, dtype=np.int64),
            "_cat": state.category.astype(np.int64),
            "_template": template,
            "category": _pick(CATEGORY_NAMES, state.category),
            "city": _pick(CITY_NAMES, state.city),
            "topic": _pick(flat_topics, state.category * N_TOPICS + topic),
            "hook": _pick(flat_hooks, hook),
            "venue": _pick(VENUE_NAMES, venue_name) + " " + _pick(flat_venues, venue_type),
            "activity": _pick(flat_acts, activity),
            "extra": _pick(_EXTRAS, extra),
            "year": pl.Series(year_str).cast(pl.String),
            "n": pl.Series(series_no).cast(pl.String),
            "tags": tag_lists(state.tags),
            "starts_at": _epoch(state.starts_s),
            "ends_at": _epoch(state.ends_s),
            "lat": np.round(lat, 5),
            "lng": np.round(lng, 5),
            "capacity": state.capacity,
            "price": state.price,
            "currency": _pick(CITY_CURRENCY, state.city),
            "organizer_id": pl.Series(organizer, dtype=pl.Int64).replace(-1, None),
            "status": _pick(STATUS_NAMES, state.status),
            "created_at": _epoch(state.created_s),
            "updated_at": _epoch(updated),
        }
    )
    price_text = (
        pl.when(pl.col("price") == 0)
        .then(pl.lit("Free entry."))
        .otherwise(pl.format("Tickets from {} {}.", _money(pl.col("price")), "currency"))
    )
    description = pl.format(
        "{}. Join the {} {} community at {} for {}. {} {}",
        "hook",
        "city",
        "topic",
        "venue",
        "activity",
        "extra",
        price_text,
    )
    return frame.select(
        "event_id",
        _title_expr().str.slice(0, 200).alias("title"),
        description.alias("description"),
        "category",
        "tags",
        "starts_at",
        "ends_at",
        pl.col("venue").alias("venue_name"),
        "city",
        "lat",
        "lng",
        "capacity",
        "price",
        "currency",
        "organizer_id",
        "status",
        "created_at",
        "updated_at",
    )


def _money(price: pl.Expr) -> pl.Expr:
    """Whole amounts without decimals (``190``), others with two (``12.50``), as on ticket sites."""
    cents = (price * 100).round().cast(pl.Int64)
    whole = (cents // 100).cast(pl.String)
    fraction = (cents % 100).cast(pl.String).str.zfill(2)
    return (
        pl.when(cents % 100 == 0).then(whole).otherwise(pl.concat_str(whole, pl.lit("."), fraction))
    )


def _organizers(spec: GenerationSpec, events: EventState, rng: np.random.Generator) -> np.ndarray:
    """Organiser of each event: an organiser account from the event's city when one exists, so
    organisers have a local footprint; ``-1`` never occurs unless nobody organises."""
    users = user_state(spec)
    organizer_ids = np.flatnonzero(users.role == 1) + 1
    m = len(events.category)
    if organizer_ids.size == 0:
        return np.full(m, -1, dtype=np.int64)
    org_home = users.home[organizer_ids - 1]
    order = np.argsort(org_home, kind="stable")
    sorted_ids, sorted_home = organizer_ids[order], org_home[order]
    offsets = np.searchsorted(sorted_home, np.arange(N_CITIES + 1))
    counts = np.diff(offsets)
    local_count = counts[events.city]
    # A skewed pick: a few organisers run most events, as on real marketplaces.
    u = rng.random(m) ** 2
    local = sorted_ids[
        np.minimum(offsets[events.city] + (u * local_count).astype(np.int64), len(sorted_ids) - 1)
    ]
    anywhere = organizer_ids[(u * organizer_ids.size).astype(np.int64)]
    return np.where(local_count > 0, local, anywhere)
