"""Users, organisers, venues, recurring series and the event catalogue of the synthetic world.

The world is shaped like real event platforms: organisers (groups) of very unequal size run
recurring series ("Python Meetup #41", then "#42") at venues they reuse, every event of an
organiser carries the organiser's boilerplate tag set, some events are online, and partner feeds
often leave city, price or category out. Users belong to a few organisers near home, have a
usual weekday and hour, a couple of favourite topics, and regular series they keep returning to.

Each random quantity comes from its own numpy stream seeded by ``(seed, stream)``, so a table can
be rebuilt on its own (tests, benchmarks) and still match the one written with the others. The
hidden state is what the interaction model draws from; only part of it lands in the files.
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
    CITY_TIME_ZONES,
    CURRENCY_PER_EUR,
    FIRST_NAMES,
    GLOBAL_TAGS,
    LAST_NAMES,
    TAG_INDEX,
    TOPIC_TAGS,
    VENUE_KINDS,
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
CITY_P = CITY_POPULATION / CITY_POPULATION.sum()
# Tag index of topic t of category c: the tags a taste can be about.
TOPIC_TAG_INDEX = np.array([[TAG_INDEX[t] for t in tags] for tags in TOPIC_TAGS], dtype=np.int16)
GLOBAL_TAG_INDEX = np.array([TAG_INDEX[t] for t in GLOBAL_TAGS], dtype=np.int16)
# How common each category is in the catalogue (meetups abound, festivals are rare).
CATEGORY_SHARE = np.array([6, 18, 13, 11, 3, 8, 9, 3, 7, 7, 9, 6], dtype=float)
CATEGORY_P = CATEGORY_SHARE / CATEGORY_SHARE.sum()
# Mean days between the first look and the start, per category: people look at festivals weeks
# ahead, at meetups in the last days.
LEAD_DAYS = np.array([30, 7, 12, 25, 35, 15, 7, 20, 14, 20, 10, 6], dtype=float)
START_HOUR = np.array([9, 18, 10, 19, 12, 9, 18, 9, 10, 19, 18, 8])

# Days after "now" over which series have scheduled instances: the window the future-events
# protocol draws its candidates from.
HORIZON_DAYS = 90
CADENCE_DAYS = np.array([7, 14, 28])
CADENCE_P = np.array([0.35, 0.2, 0.45])
# Spread of venues and homes around a city centre, in degrees (about 4 km by 4 km).
CITY_SPREAD = (0.035, 0.055)
ONLINE_SHARE = 0.07
ONE_OFF_SHARE = 0.2
# Shares of the landed catalogue where the feed left the field out.
MISSING_CITY, MISSING_PRICE, MISSING_CATEGORY = 0.25, 0.3, 0.25
# Feeds leave the image out for some listings; one in-person series in this many is hybrid.
MISSING_IMAGE_PERCENT = 30
HYBRID_SERIES_EVERY = 12
MAX_MEMBERSHIPS = 5
MAX_VENUES = 6
_JOIN_TRIES = 4

(
    _STREAM_USERS,
    _STREAM_TASTES,
    _STREAM_EVENTS,
    _STREAM_TEXT,
    STREAM_INTERACTIONS,
    STREAM_PARTNER,
    _STREAM_ORGANIZERS,
    _STREAM_MEMBERS,
    STREAM_FEEDBACK,
    STREAM_FOLLOWS,
) = range(1, 11)

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


def _freeze(state: object) -> None:
    for array in vars(state).values():
        if isinstance(array, np.ndarray):
            array.setflags(write=False)


def distance_km(
    lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray
) -> np.ndarray:
    """Equirectangular distance: exact enough inside a city, and cheap on millions of pairs."""
    dy = (lat1 - lat2) * 110.57
    dx = (lng1 - lng2) * 111.32 * np.cos(np.radians((lat1 + lat2) / 2))
    return np.sqrt(dx * dx + dy * dy)


_DISTANCE_KM = 200.0
_TRAVEL_FLOOR = 0.004


def distance_decay() -> np.ndarray:
    """(home city, event city) weights: 1 at home, fading with great-circle distance, with a
    small floor for travellers so far cities are rare but possible."""
    lat, lng = np.radians(CITY_LAT), np.radians(CITY_LNG)
    dlat = lat[:, None] - lat[None, :]
    dlng = lng[:, None] - lng[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlng / 2) ** 2
    km = 2 * 6371.0 * np.arcsin(np.sqrt(a))
    return 0.3 * np.exp(-km / _DISTANCE_KM) * (km > 0) + (km == 0) + _TRAVEL_FLOOR


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


_ALPHABET = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", np.uint8)
_ID_DIGITS = 8
_ID_MULTIPLIER = 0x5DEECE66D  # odd, so the scramble is a bijection modulo 36**8


def alnum_ids(prefix: str, ids: np.ndarray) -> pl.Series:
    """Positive integer ids as alphanumeric codes (``"e0k3c9x2a"``), the way partners name things.

    A multiplicative scramble modulo 36**8 keeps the codes unique for ids below 2.8e12 and
    unrelated to the order of the ids; the same id always gives the same code.
    """
    modulus = 36**_ID_DIGITS
    value = (np.asarray(ids, dtype=np.int64).astype(object) * _ID_MULTIPLIER % modulus).astype(
        np.int64
    )
    digits = np.empty((value.size, _ID_DIGITS), np.uint8)
    for position in range(_ID_DIGITS - 1, -1, -1):
        digits[:, position] = _ALPHABET[value % 36]
        value //= 36
    head = np.frombuffer(prefix.encode(), np.uint8)
    rows = np.concatenate([np.broadcast_to(head, (digits.shape[0], head.size)), digits], axis=1)
    width = rows.shape[1]
    text = np.ascontiguousarray(rows).tobytes().decode()
    return pl.Series([text[i : i + width] for i in range(0, len(text), width)], dtype=pl.String)


# --- users -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserState:
    """Hidden truth about users: what the interaction model draws from.

    ``taste`` is a preference distribution over categories (rows sum to 1); ``topics`` holds two
    favourite (category * N_TOPICS + topic) codes, ``favorite_tags`` their tags; ``weekday``
    (0 = Monday) and ``hour`` are the user's usual slot; ``activity`` scales how often a user
    shows up at all (zero for registered-but-idle accounts).
    """

    home: np.ndarray
    lat: np.ndarray
    lng: np.ndarray
    taste: np.ndarray
    taste_ratio: np.ndarray  # taste / the user's top taste: 1 for their favourite category
    topics: np.ndarray
    favorite_tags: np.ndarray
    weekday: np.ndarray
    hour: np.ndarray
    activity: np.ndarray
    role: np.ndarray
    created_s: np.ndarray


@lru_cache(maxsize=2)
def user_state(spec: GenerationSpec) -> UserState:
    """The hidden state of every user (index ``i`` is user ``i + 1``)."""
    n = spec.users
    rng = rng_for(spec, _STREAM_TASTES)
    home = rng.choice(N_CITIES, size=n, p=CITY_P)
    lat = CITY_LAT[home] + rng.normal(0, CITY_SPREAD[0], n)
    lng = CITY_LNG[home] + rng.normal(0, CITY_SPREAD[1], n)
    # Peaked Dirichlet tastes mixed with the catalogue's category mix: most people care about a
    # couple of categories and glance at the rest.
    raw = rng.gamma(0.25, size=(n, N_CATEGORIES)) + 1e-9
    taste = 0.85 * raw / raw.sum(axis=1, keepdims=True) + 0.15 * CATEGORY_P
    order = np.argsort(-taste, axis=1)
    topic_p = 1.0 / np.sqrt(np.arange(1, N_TOPICS + 1))
    topic_p /= topic_p.sum()
    first = rng.choice(N_TOPICS, size=n, p=topic_p)
    second = np.where(
        rng.random(n) < 0.5,
        (first + rng.integers(1, N_TOPICS, n)) % N_TOPICS,
        rng.choice(N_TOPICS, size=n, p=topic_p),
    )
    second_category = np.where(rng.random(n) < 0.6, order[:, 0], order[:, 1])
    topics = np.stack([order[:, 0] * N_TOPICS + first, second_category * N_TOPICS + second], 1)
    favorite_tags = TOPIC_TAG_INDEX.ravel()[topics]
    # Most people keep to weekday evenings; some are weekend-daytime people.
    weekend = rng.random(n) < 0.3
    weekday = np.where(weekend, rng.integers(5, 7, n), rng.integers(0, 5, n))
    hour = np.where(weekend, rng.integers(10, 15, n), rng.integers(17, 21, n))
    activity = rng.lognormal(0.0, 1.0, n) * (rng.random(n) >= 0.1)
    role = rng.choice(3, size=n, p=[0.9, 0.08, 0.02]).astype(np.int8)
    days_before = rng.uniform(1, 3 * 365, n)
    created_s = (spec.window_start_s - days_before * 86_400).astype(np.int64)
    taste_ratio = taste / taste.max(axis=1, keepdims=True)
    state = UserState(
        home,
        lat,
        lng,
        taste,
        taste_ratio,
        topics,
        favorite_tags,
        weekday,
        hour,
        activity,
        role,
        created_s,
    )
    _freeze(state)
    return state


def make_users(spec: GenerationSpec) -> pl.DataFrame:
    """The users table as it lands (``users/users.csv``), numbered from 1.

    Interests reveal part of the hidden taste (the top category, some favourite topics), and a
    few users have no home location, as real sign-up forms leave them blank.
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
            "home_lat": np.round(state.lat, 5),
            "home_lng": np.round(state.lng, 5),
            "has_home": has_home,
            "i_cat": _pick(CATEGORY_NAMES, top),
            "i_tag_a": _pick(ALL_TAGS, state.favorite_tags[:, 0]),
            "i_tag_b": _pick(ALL_TAGS, state.favorite_tags[:, 1]),
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


# --- organisers, venues and series -----------------------------------------------------------


@dataclass(frozen=True)
class WorldState:
    """Organisers (groups), venues and recurring series: the structure events come from.

    Organiser ``g`` is run by the user account ``owner[g]`` (``-1``: no organiser account
    exists), lives in ``city[g]`` and has a Zipf-like ``size``; its boilerplate tag set is
    ``tags[g]`` (-1 padded) and it books the venues ``venues[g]`` (-1 padded). Series ``s``
    belongs to ``series_org[s]``, is about ``series_topic[s]`` (a topic of the organiser's
    category), meets at ``series_venue[s]`` (-1: online) on ``series_weekday[s]`` at
    ``series_minute[s]`` minutes past midnight UTC, every ``series_cadence[s]`` days.
    """

    org_city: np.ndarray
    org_category: np.ndarray
    org_size: np.ndarray
    org_owner: np.ndarray
    org_tags: np.ndarray
    org_venues: np.ndarray
    org_price_eur: np.ndarray
    venue_city: np.ndarray
    venue_lat: np.ndarray
    venue_lng: np.ndarray
    venue_name: np.ndarray  # index into VENUE_NAMES * len(VENUE_KINDS)
    series_org: np.ndarray
    series_topic: np.ndarray
    series_venue: np.ndarray
    series_weekday: np.ndarray
    series_minute: np.ndarray
    series_cadence: np.ndarray
    series_first_day: np.ndarray  # day of the first instance, relative to "now"
    series_count: np.ndarray  # instances in the catalogue
    series_first_number: np.ndarray
    series_numbered: np.ndarray
    series_template: np.ndarray
    series_hook: np.ndarray
    series_capacity: np.ndarray
    series_popularity: np.ndarray
    # Per series, looked up together on every journey: category, hour, venue coordinates (0 when
    # online) and the kilometres per degree of longitude there.
    series_category: np.ndarray
    series_hour: np.ndarray
    series_lat: np.ndarray
    series_lng: np.ndarray
    series_km_per_lng: np.ndarray

    @property
    def organizers(self) -> int:
        return len(self.org_city)

    @property
    def series(self) -> int:
        return len(self.series_org)


def _allocate_instances(
    rng: np.random.Generator, total: int, weight: np.ndarray, cap: np.ndarray
) -> np.ndarray:
    """Split ``total`` instances over series (at least one each, at most ``cap``) by ``weight``."""
    counts = np.ones(cap.size, dtype=np.int64)
    rest = total - counts.sum()
    while rest > 0:
        room = (cap - counts) > 0
        p = weight * room
        counts += rng.multinomial(rest, p / p.sum())
        over = np.maximum(counts - cap, 0)
        counts -= over
        rest = int(over.sum())
    return counts


@lru_cache(maxsize=2)
def world_state(spec: GenerationSpec) -> WorldState:
    """Organisers, venues and series of the world, sized so the series hold ``spec.events``."""
    rng = rng_for(spec, _STREAM_ORGANIZERS)
    users = user_state(spec)
    m = spec.events
    span = spec.days + HORIZON_DAYS

    # Series first: how many, their cadence and how many instances each has in the catalogue.
    one_offs = min(m - 1, round(ONE_OFF_SHARE * m / 5))
    recurring_events = m - one_offs
    # Enough recurring series that their instances fit in the window with room to spare.
    mean_cap = float(CADENCE_P @ ((span - 1) // CADENCE_DAYS + 1))
    n_recurring = max(1, round(0.16 * m), int(np.ceil(1.5 * recurring_events / mean_cap)))
    n_recurring = min(n_recurring, recurring_events)
    n_series = n_recurring + one_offs
    cadence = CADENCE_DAYS[rng.choice(CADENCE_DAYS.size, size=n_series, p=CADENCE_P)]
    cap = np.where(np.arange(n_series) < n_recurring, (span - 1) // cadence + 1, 1)
    if cap[:n_recurring].sum() < recurring_events:
        cap[:n_recurring] = recurring_events  # a window too short: series run daily-dense
        cadence[:n_recurring] = 1
    popularity = rng.lognormal(0, 0.7, n_series)
    counts = np.concatenate(
        [
            _allocate_instances(rng, recurring_events, popularity[:n_recurring], cap[:n_recurring]),
            np.ones(one_offs, np.int64),
        ]
    )
    latest_first = HORIZON_DAYS - 1 - (counts - 1) * cadence
    first_day = np.floor(rng.uniform(-spec.days, np.maximum(latest_first, -spec.days) + 1)).astype(
        np.int64
    )

    # Organisers: Zipf-like sizes; each runs at least one series, the big ones many.
    n_org = max(1, min(n_series, round(m / 12)))
    rank = rng.permutation(n_org) + 1
    size = rank**-2.0 * rng.lognormal(0, 0.3, n_org)
    series_org = np.concatenate(
        [
            rng.permutation(n_org)[: min(n_org, n_series)],
            rng.choice(n_org, size=max(0, n_series - n_org), p=size / size.sum()),
        ]
    )
    rng.shuffle(series_org)
    accounts = np.flatnonzero(users.role == 1)
    if accounts.size:
        owner = rng.permutation(accounts)[np.arange(n_org) % accounts.size]
        org_city = users.home[owner]
    else:
        owner = np.full(n_org, -1, dtype=np.int64)
        org_city = rng.choice(N_CITIES, size=n_org, p=CITY_P)
    org_category = rng.choice(N_CATEGORIES, size=n_org, p=CATEGORY_P)

    # Boilerplate tags: the organiser's own category topics, a few neighbouring ones, a global.
    n_tags = rng.integers(10, 21, n_org)
    other = (org_category + rng.integers(1, N_CATEGORIES, n_org)) % N_CATEGORIES
    pool = np.concatenate(
        [
            TOPIC_TAG_INDEX[org_category],
            TOPIC_TAG_INDEX[other],
            np.broadcast_to(GLOBAL_TAG_INDEX, (n_org, GLOBAL_TAG_INDEX.size)),
        ],
        axis=1,
    )
    extra = np.argsort(rng.random((n_org, pool.shape[1] - N_TOPICS)), axis=1) + N_TOPICS
    order = np.concatenate([np.tile(np.arange(N_TOPICS), (n_org, 1)), extra], axis=1)
    chosen = np.take_along_axis(pool, order, axis=1)[:, :20]
    org_tags = np.where(np.arange(20)[None, :] < n_tags[:, None], chosen, -1).astype(np.int16)

    # Venues: a pool per city. An organiser meets at a main venue (some are hubs several
    # organisers share) and, the bigger it is, at more venues in the same neighbourhood.
    n_venues = max(N_CITIES, round(3 * n_org))
    venue_city = np.concatenate(
        [np.arange(N_CITIES), rng.choice(N_CITIES, n_venues - N_CITIES, p=CITY_P)]
    )
    venue_lat = CITY_LAT[venue_city] + rng.normal(0, CITY_SPREAD[0], n_venues)
    venue_lng = CITY_LNG[venue_city] + rng.normal(0, CITY_SPREAD[1], n_venues)
    venue_name = rng.integers(0, len(VENUE_NAMES) * len(VENUE_KINDS), n_venues)
    n_own = np.minimum(1 + rng.poisson(0.6 + 2.5 * size / size.max()), MAX_VENUES)
    org_venues = np.full((n_org, MAX_VENUES), -1, dtype=np.int64)
    for city in np.unique(org_city):
        pool = np.flatnonzero(venue_city == city)
        orgs = np.flatnonzero(org_city == city)
        main = pool[(rng.random(orgs.size) ** 1.5 * pool.size).astype(np.int64)]
        km = distance_km(
            venue_lat[main][:, None], venue_lng[main][:, None], venue_lat[pool], venue_lng[pool]
        )
        near = pool[np.argsort(km, axis=1, kind="stable")[:, :MAX_VENUES]]
        near[:, 0] = main
        width = near.shape[1]
        keep = np.arange(width)[None, :] < n_own[orgs][:, None]
        org_venues[orgs, :width] = np.where(keep, near, -1)

    cat = org_category[series_org]
    topic_p = 1.0 / np.sqrt(np.arange(1, N_TOPICS + 1))
    series_topic = rng.choice(N_TOPICS, size=n_series, p=topic_p / topic_p.sum())
    # The organiser's main venue mostly, another of its venues sometimes, online now and then.
    own = org_venues[series_org]
    slot = (rng.random(n_series) * (own >= 0).sum(axis=1)).astype(np.int64)
    slot = np.where(rng.random(n_series) < 0.4, 0, slot)
    venue = own[np.arange(n_series), slot]
    venue = np.where(rng.random(n_series) < ONLINE_SHARE, -1, venue)
    weekday = (spec.now_s // 86_400 + first_day + 3) % 7  # 1970-01-01 was a Thursday
    hour = (
        START_HOUR[cat]
        + rng.integers(0, 3, n_series)
        - (weekday >= 5) * rng.integers(0, 6, n_series)
    )
    minute = np.clip(hour, 7, 21) * 60 + 30 * rng.integers(0, 2, n_series)
    first_number = 1 + rng.geometric(0.04, n_series) * (counts > 1)
    numbered = (rng.random(n_series) < 0.55) & (counts > 1)
    n_templates = np.array([len(c.title_templates) for c in CATEGORIES])[cat]
    template = (rng.random(n_series) * n_templates).astype(np.int64)
    n_hooks = np.array([len(c.hooks) for c in CATEGORIES])[cat]
    hook = (rng.random(n_series) * n_hooks).astype(np.int64)
    cap_median = np.array([c.capacity_median for c in CATEGORIES])[cat]
    capacity = cap_median * rng.lognormal(0, 0.6, n_series)
    step = np.where(capacity < 50, 1, np.where(capacity < 500, 10, 100))
    capacity = np.maximum(5, np.round(capacity / step) * step).astype(np.int64)
    price_eur = np.array([c.price_median_eur for c in CATEGORIES])[org_category]
    price_eur = price_eur * rng.lognormal(0, 0.5, n_org)
    price_eur *= rng.random(n_org) >= np.array([c.free_share for c in CATEGORIES])[org_category]
    state = WorldState(
        org_city=org_city,
        org_category=org_category,
        org_size=size,
        org_owner=owner,
        org_tags=org_tags,
        org_venues=org_venues,
        org_price_eur=price_eur,
        venue_city=venue_city,
        venue_lat=venue_lat,
        venue_lng=venue_lng,
        venue_name=venue_name,
        series_org=series_org,
        series_topic=series_topic,
        series_venue=venue,
        series_weekday=weekday,
        series_minute=minute,
        series_cadence=cadence,
        series_first_day=first_day,
        series_count=counts,
        series_first_number=first_number,
        series_numbered=numbered,
        series_template=template,
        series_hook=hook,
        series_capacity=capacity,
        series_popularity=popularity * size[series_org] ** 0.7,
        series_category=cat,
        series_hour=minute // 60,
        series_lat=np.where(venue < 0, 0.0, venue_lat[np.maximum(venue, 0)]),
        series_lng=np.where(venue < 0, 0.0, venue_lng[np.maximum(venue, 0)]),
        series_km_per_lng=111.32 * np.cos(np.radians(venue_lat[np.maximum(venue, 0)])),
    )
    _freeze(state)
    return state


@dataclass(frozen=True)
class Blocks:
    """Rows of a weight matrix laid end to end as one cumulative array: a draw inside any row
    (proportional to its weights) is one vectorised ``searchsorted`` for millions of draws."""

    cum: np.ndarray
    before: np.ndarray
    total: np.ndarray
    width: int

    @classmethod
    def of(cls, weights: np.ndarray) -> Blocks:
        """Blocks over the rows of a (rows, width) non-negative weight matrix."""
        cum = np.cumsum(weights.ravel())
        padded = np.concatenate([[0.0], cum])
        width = weights.shape[1]
        starts = np.arange(weights.shape[0]) * width
        before = padded[starts]
        return cls(cum, before, padded[starts + width] - before, width)

    def draw(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        """One column index per entry of ``rows``, by the weights of that row (rows of zero
        weight give an arbitrary index: check ``total`` first)."""
        x = self.before[rows] + (1.0 - rng.random(rows.shape)) * self.total[rows]
        pos = np.searchsorted(self.cum, x, side="left")
        return np.clip(pos - rows * self.width, 0, self.width - 1)


@dataclass(frozen=True)
class MemberState:
    """Who belongs to which organiser, and the series each member keeps going back to.

    ``organizers[u]`` lists user ``u``'s organisers (-1 padded) and ``series[u]`` the regular
    series the user has at each of them (-1: none, the user picks among that organiser's events).
    """

    organizers: np.ndarray
    series: np.ndarray


def event_affinity(
    users: UserState, world: WorldState, u: np.ndarray, series: np.ndarray
) -> np.ndarray:
    """How much user ``u`` wants what series ``series`` offers, as a score (higher: more).

    Topic (what the title is about), category taste, distance from home to the venue and the
    usual weekday and hour: the reasons people pick one of an organiser's events over another.
    """
    cat = world.series_category[series]
    code = cat * N_TOPICS + world.series_topic[series]
    topic = (users.topics[u] == code[..., None]).any(axis=-1)
    taste = users.taste_ratio[u, cat]
    dy = (users.lat[u] - world.series_lat[series]) * 110.57
    dx = (users.lng[u] - world.series_lng[series]) * world.series_km_per_lng[series]
    km = np.sqrt(dx * dx + dy * dy)
    place = np.where(world.series_venue[series] < 0, -2.0, -np.minimum(km / 1.5, 4.0))
    weekday = world.series_weekday[series] == users.weekday[u]
    hour = np.abs(world.series_hour[series] - users.hour[u]) <= 1
    return 1.8 * topic + 1.2 * taste + place + 1.4 * weekday + 0.6 * hour


@lru_cache(maxsize=2)
def member_state(spec: GenerationSpec) -> MemberState:
    """Memberships drawn by taste, organiser size and distance; regular series by affinity."""
    users, world = user_state(spec), world_state(spec)
    rng = rng_for(spec, _STREAM_MEMBERS)
    n, g = spec.users, world.organizers
    k = np.minimum(rng.poisson(1.3, n) + 1, MAX_MEMBERSHIPS) * (rng.random(n) >= 0.12)
    # Category by taste, then an organiser of that category by size x distance from home.
    cum_taste = np.cumsum(users.taste, axis=1)
    cum_taste /= cum_taste[:, -1:]
    draws = rng.random((n, MAX_MEMBERSHIPS))
    category = np.minimum((draws[:, :, None] > cum_taste[:, None, :]).sum(axis=2), N_CATEGORIES - 1)
    decay = distance_decay()
    weight = world.org_size[None, :] * decay[:, world.org_city]  # (home city, organiser)
    same = world.org_category[None, None, :] == np.arange(N_CATEGORIES)[:, None, None]
    by_cat = Blocks.of((weight[None, :, :] * same).reshape(N_CATEGORIES * N_CITIES, g))
    block = category * N_CITIES + users.home[:, None]
    # Some memberships follow size and place alone: everyone knows the big groups in town.
    by_home = Blocks.of(weight)
    home = np.broadcast_to(users.home[:, None, None], (*block.shape, _JOIN_TRIES))
    tried = np.where(
        (by_cat.total[block] <= 0)[..., None] | (rng.random(home.shape) < 0.25),
        by_home.draw(rng, home),
        by_cat.draw(rng, np.broadcast_to(block[..., None], home.shape)),
    )
    # Of a few candidates, people join the one that meets nearest to where they live.
    venue = np.maximum(world.org_venues[tried, 0], 0)
    uu = np.broadcast_to(np.arange(n)[:, None, None], home.shape)
    km = distance_km(users.lat[uu], users.lng[uu], world.venue_lat[venue], world.venue_lng[venue])
    best = (-km / 1.5 + rng.gumbel(0, 1.0, km.shape)).argmax(axis=2)
    org = np.take_along_axis(tried, best[..., None], axis=2)[..., 0]
    organizers = np.where(np.arange(MAX_MEMBERSHIPS)[None, :] < k[:, None], org, -1)

    # A regular series at about half of the memberships: the best of a few by affinity + luck.
    series_by_org = np.argsort(world.series_org, kind="stable")
    org_bounds = np.searchsorted(world.series_org[series_by_org], np.arange(g + 1))
    regular = np.full((n, MAX_MEMBERSHIPS), -1, dtype=np.int64)
    tries = 6
    for lo_user in range(0, n, 100_000):
        rows = slice(lo_user, min(n, lo_user + 100_000))
        o = np.maximum(organizers[rows], 0)
        lo, count = org_bounds[o], np.diff(org_bounds)[o]
        shape = (*o.shape, tries)
        pick = lo[..., None] + (rng.random(shape) * count[..., None]).astype(np.int64)
        candidates = series_by_org[np.minimum(pick, series_by_org.size - 1)]
        uu = np.broadcast_to(np.arange(rows.start, rows.stop)[:, None, None], shape)
        score = event_affinity(users, world, uu, candidates) + rng.gumbel(0, 1.0, shape)
        best = np.take_along_axis(candidates, score.argmax(axis=2)[..., None], axis=2)[..., 0]
        keep = (organizers[rows] >= 0) & (rng.random(o.shape) < 0.5)
        keep &= world.series_count[best] > 1
        regular[rows] = np.where(keep, best, -1)
    state = MemberState(organizers=organizers, series=regular)
    _freeze(state)
    return state


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventState:
    """Hidden truth about events, aligned with the rows of :func:`make_events` (index ``i`` is
    event ``i + 1``): the series, organiser and venue each belongs to, the true category, city and
    price (the landed file leaves some out), and when the event became visible to users."""

    series: np.ndarray
    organizer: np.ndarray
    venue: np.ndarray  # -1: online
    number: np.ndarray  # instance number within the series ("#41")
    category: np.ndarray
    city: np.ndarray
    topic: np.ndarray  # topic index within the category (what the title is about)
    tags: np.ndarray  # (events, slots) tag indices, -1 padded
    starts_s: np.ndarray
    ends_s: np.ndarray
    created_s: np.ndarray
    visible_s: np.ndarray  # announced: no interaction before this second
    status: np.ndarray  # index into STATUS_NAMES
    capacity: np.ndarray
    price: np.ndarray
    popularity: np.ndarray


STATUS_NAMES = ("draft", "published", "cancelled", "completed")
DRAFT, PUBLISHED, CANCELLED, COMPLETED = range(4)
# Mean days between an instance's announcement and its start (a couple of weeks for most
# groups): upcoming instances further out than that are scheduled but nobody has seen them.
ANNOUNCE_DAYS = 9.0


@lru_cache(maxsize=2)
def event_state(spec: GenerationSpec) -> EventState:
    """The hidden state and integer codes of every event, in order of start."""
    world = world_state(spec)
    rng = rng_for(spec, _STREAM_EVENTS)
    now = spec.now_s
    series = np.repeat(np.arange(world.series), world.series_count)
    within = np.arange(series.size) - np.repeat(
        np.cumsum(world.series_count) - world.series_count, world.series_count
    )
    day = world.series_first_day[series] + within * world.series_cadence[series]
    starts = (now // 86_400 + day) * 86_400 + world.series_minute[series] * 60
    order = np.argsort(starts, kind="stable")
    series, within, starts = series[order], within[order], starts[order]
    m = series.size
    org = world.series_org[series]
    category = world.org_category[org]
    lo_h = np.array([c.hours[0] for c in CATEGORIES])[category]
    hi_h = np.array([c.hours[1] for c in CATEGORIES])[category]
    duration_min = np.maximum(30, np.round(rng.uniform(lo_h, hi_h) * 2) * 30)
    ends = starts + duration_min.astype(np.int64) * 60
    announce = ((3 + rng.exponential(ANNOUNCE_DAYS - 3, m)) * 86_400).astype(np.int64)
    visible = starts - announce
    created = np.minimum(visible, now - 3600 - (rng.random(m) * 20 * 86_400).astype(np.int64))

    status = np.full(m, PUBLISHED, dtype=np.int8)
    upcoming = starts > now
    status[(~upcoming) & (ends <= now) & (rng.random(m) < 0.4)] = COMPLETED
    status[rng.random(m) < 0.03] = CANCELLED
    status[upcoming & (visible > now) & (rng.random(m) < 0.1)] = DRAFT

    capacity = np.maximum(5, world.series_capacity[series] * rng.uniform(0.9, 1.1, m)).astype(
        np.int64
    )
    city = world.org_city[org]
    rate = np.array([CURRENCY_PER_EUR[CITY_CURRENCY[c]] for c in range(N_CITIES)])[city]
    local = world.org_price_eur[org] * rng.lognormal(0, 0.15, m) * rate
    step = np.where(rate > 3, 5.0, 0.5)
    price = np.where(local > 0, np.maximum(step, np.round(local / step) * step), 0.0)

    # Every event carries its organiser's tag set; now and then one tag is left off.
    tags = world.org_tags[org].copy()
    drop = rng.random(m) < 0.1
    slot = (rng.random(m) * np.maximum((tags >= 0).sum(axis=1), 1)).astype(np.int64)
    tags[np.flatnonzero(drop), slot[drop]] = -1
    popularity = world.series_popularity[series] * rng.lognormal(0, 0.3, m)
    state = EventState(
        series=series,
        organizer=org,
        venue=world.series_venue[series],
        number=world.series_first_number[series] + within,
        category=category,
        city=city,
        topic=world.series_topic[series],
        tags=tags,
        starts_s=starts,
        ends_s=ends,
        created_s=created,
        visible_s=visible,
        status=status,
        capacity=capacity,
        price=price,
        popularity=popularity,
    )
    _freeze(state)
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


# Templates that number their instances themselves ("{topic} {city} #{n}").
_TEMPLATES_PER = max(len(c.title_templates) for c in CATEGORIES)
_NUMBERED_TEMPLATE = np.array(
    [
        ["{n}" in t for t in c.title_templates]
        + [False] * (_TEMPLATES_PER - len(c.title_templates))
        for c in CATEGORIES
    ],
    dtype=bool,
)

_EXTRAS = (
    "Doors open 30 minutes before the start.",
    "Places are limited, so register early.",
    "The venue is step-free; contact the organiser with any access needs.",
    "The programme is in English.",
    "Refreshments are included.",
    "Bring a friend!",
    "Follow the organiser for future dates.",
)


def _flat(per_category: list[tuple[str, ...]]) -> tuple[list[str], int]:
    """Per-category vocabularies padded to one width, for lookups by category * width + i."""
    width = max(len(v) for v in per_category)
    return [v[i] if i < len(v) else "" for v in per_category for i in range(width)], width


def venue_names(world: WorldState) -> pl.Series:
    """Display name of every venue ("Riverside Hub")."""
    names = [f"{a} {b}" for a in VENUE_NAMES for b in VENUE_KINDS]
    return _pick(names, world.venue_name)


def make_events(spec: GenerationSpec) -> pl.DataFrame:
    """The event catalogue as it lands, numbered from 1 in order of start.

    Titles repeat within a series (numbered "#41", "#42" or plain), descriptions vary per
    instance around the series' topic; city, price and category are missing for a share of the
    rows, as partner feeds leave them out, and online events have no venue and no coordinates.
    """
    state = event_state(spec)
    world = world_state(spec)
    m = state.series.size
    rng = rng_for(spec, _STREAM_TEXT)
    cat = state.category
    flat_topics = [t for c in CATEGORIES for t in c.topics]
    flat_hooks, hooks_per = _flat([c.hooks for c in CATEGORIES])
    flat_acts, acts_per = _flat([c.activities for c in CATEGORIES])
    n_hooks = np.array([len(c.hooks) for c in CATEGORIES])[cat]
    n_acts = np.array([len(c.activities) for c in CATEGORIES])[cat]
    template = world.series_template[state.series]
    self_numbered = _NUMBERED_TEMPLATE[cat, template]
    append_number = world.series_numbered[state.series] & ~self_numbered
    instance_hook = cat * hooks_per + (rng.random(m) * n_hooks).astype(np.int64)
    activity = cat * acts_per + (rng.random(m) * n_acts).astype(np.int64)
    extra = rng.integers(0, len(_EXTRAS), m)
    year = state.starts_s.astype("datetime64[s]").astype("datetime64[Y]").astype(int) + 1970
    online = state.venue < 0
    v = np.maximum(state.venue, 0)
    lat = np.where(online, np.nan, world.venue_lat[v])
    lng = np.where(online, np.nan, world.venue_lng[v])
    missing = rng.random((3, m))
    now = spec.now_s
    updated = state.created_s + (rng.random(m) * (now - state.created_s)).astype(np.int64)
    organizer = world.org_owner[state.organizer]

    frame = pl.DataFrame(
        {
            "event_id": np.arange(1, m + 1, dtype=np.int64),
            "_cat": cat.astype(np.int64),
            "_template": template,
            "category": _pick(CATEGORY_NAMES, cat),
            "city": _pick(CITY_NAMES, state.city),
            "topic": _pick(flat_topics, cat * N_TOPICS + state.topic),
            "hook": _pick(flat_hooks, cat * hooks_per + world.series_hook[state.series]),
            "instance_hook": _pick(flat_hooks, instance_hook),
            "venue": venue_names(world).gather(v),
            "activity": _pick(flat_acts, activity),
            "extra": _pick(_EXTRAS, extra),
            "year": pl.Series(year).cast(pl.String),
            "n": pl.Series(state.number).cast(pl.String),
            "append_number": append_number,
            "online": online,
            "tags": tag_lists(state.tags),
            "starts_at": _epoch(state.starts_s),
            "ends_at": _epoch(state.ends_s),
            "lat": np.round(lat, 5),
            "lng": np.round(lng, 5),
            "capacity": state.capacity,
            "price": state.price,
            "currency": _pick(CITY_CURRENCY, state.city),
            "organizer_id": pl.Series(organizer + 1, dtype=pl.Int64).replace(0, None),
            "series_id": pl.Series(state.series + 1, dtype=pl.Int64),
            "venue_id": pl.Series(np.where(online, -1, v + 1), dtype=pl.Int64).replace(-1, None),
            "status": _pick(STATUS_NAMES, state.status),
            "created_at": _epoch(state.created_s),
            "updated_at": _epoch(updated),
            "no_city": missing[0] < MISSING_CITY,
            "no_price": missing[1] < MISSING_PRICE,
            "no_category": missing[2] < MISSING_CATEGORY,
        }
    ).with_columns(pl.col("lat", "lng").fill_nan(None))
    price_text = (
        pl.when(pl.col("price") == 0)
        .then(pl.lit("Free entry."))
        .otherwise(pl.format("Tickets from {} {}.", _money(pl.col("price")), "currency"))
    )
    where = pl.when(pl.col("online")).then(pl.lit("online")).otherwise("at " + pl.col("venue"))
    description = pl.format(
        "{}. The {} {} community meets {} for {}. {} {}",
        "instance_hook",
        "city",
        "topic",
        where,
        "activity",
        "extra",
        price_text,
    )
    # A series streams its in-person sessions too now and then: the same series every time.
    attendance = (
        pl.when(pl.col("online"))
        .then(pl.lit("online"))
        .when(pl.col("series_id") % HYBRID_SERIES_EVERY == 0)
        .then(pl.lit("hybrid"))
        .otherwise(pl.lit("in_person"))
    )
    title = (
        pl.when(pl.col("append_number"))
        .then(pl.concat_str(_title_expr(), pl.lit(" #"), pl.col("n")))
        .otherwise(_title_expr())
    )
    return frame.select(
        "event_id",
        title.str.slice(0, 200).alias("title"),
        description.alias("description"),
        pl.when(~pl.col("no_category")).then(pl.col("category")).alias("category"),
        "tags",
        "starts_at",
        "ends_at",
        pl.when(pl.col("online")).then(pl.lit("Online")).otherwise("venue").alias("venue_name"),
        pl.when(~pl.col("no_city") & ~pl.col("online")).then(pl.col("city")).alias("city"),
        "lat",
        "lng",
        "capacity",
        pl.when(~pl.col("no_price")).then(pl.col("price")).alias("price"),
        "currency",
        "organizer_id",
        "series_id",
        "venue_id",
        pl.lit(None, dtype=pl.String).alias("external_id"),
        pl.col("city").replace_strict(CITY_TIME_ZONES).alias("timezone"),
        attendance.alias("attendance_mode"),
        pl.when(attendance != "in_person")
        .then(pl.format("https://live.example.org/series/{}/{}", "series_id", "event_id"))
        .alias("online_url"),
        pl.when(pl.col("event_id").hash(7) % 100 >= MISSING_IMAGE_PERCENT)
        .then(pl.format("https://images.example.org/events/{}.jpg", "event_id"))
        .alias("image_url"),
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
