"""Partner-feed listings with a planted truth, for curation to be measured against.

Real partner feeds list one event several times, list look-alikes that are different events,
leave categories out and carry junk. :func:`plant_listings` turns a catalogue (``make_events``)
into listings as they land from three feeds, and a ground-truth frame that says which real event
each listing is and which quality flags it deserves. The truth never reaches the pipeline: it is
for tests and ``benchmarks/bench_curation.py`` only.

What is planted, each from its own decision so that any kind can be switched off:

- cross-feed duplicates: the same event again in another feed, under another id, with a title
  typo or a ticketing suffix, the start an hour off (a time-zone mistake), coordinates a few
  hundred metres away, a trimmed or extended description, a variant of the venue name, no
  organiser, no city;
- hard negatives: next week's instance of a weekly series at the same venue, and a second
  session of the same event later the same day, which are different events;
- listings whose feed gave no category;
- junk: missing or too-short descriptions, spam (all caps, repeated punctuation, link farms),
  impossible capacity or price, an event listed after it started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl

from core.contracts import EVENTS
from pipelines.synthetic.spec import GenerationSpec
from pipelines.synthetic.world import make_events

FEEDS = ("partner-a", "partner-b", "partner-c")
_FEED_PREFIX = ("PA", "TX", "EVT")
# Seeds this module's own random stream, apart from the world's streams.
_STREAM_LISTINGS = 13

TICKET_SUFFIXES = (" [Tickets]", " - Tickets", " (Official)", " | Book now", " [Sold fast]")
SHORT_DESCRIPTIONS = ("Fun!", "TBA", "See website.", "Come along", "Details soon")
LINK_FARM = (
    " Tickets: http://cheap-tix.example/a http://cheap-tix.example/b"
    " http://best-deals.example/c http://win-now.example/d"
)

# Junk kinds, each named for the quality flag that must catch it.
JUNK_KINDS = (
    "missing_description",
    "short_description",
    "all_caps",
    "repeated_punctuation",
    "link_farm",
    "impossible_capacity",
    "impossible_price",
    "start_in_past",
)
DUPLICATE_FLAG = "duplicate_listing"
# The least time between two events at one venue; also where same-day sessions are planted.
VENUE_TURNOVER = timedelta(hours=3)


@dataclass(frozen=True)
class ListingPlan:
    """How much of each kind to plant; shares are of the catalogue's events."""

    duplicate_share: float = 0.15
    third_feed_share: float = 0.3  # of the duplicated events, also listed in a third feed
    next_week_share: float = 0.06
    same_day_session_share: float = 0.03
    uncategorised_share: float = 0.2
    junk_share: float = 0.06

    def __post_init__(self) -> None:
        shares = (
            self.duplicate_share,
            self.third_feed_share,
            self.next_week_share,
            self.same_day_session_share,
            self.uncategorised_share,
            self.junk_share,
        )
        if not all(0.0 <= s <= 1.0 for s in shares):
            raise ValueError("every share of a listing plan must be in [0, 1]")


@dataclass(frozen=True)
class PlantedListings:
    """Listings as they land, and the truth about them.

    ``listings`` has the EVENTS contract's columns (those the catalogue has) plus ``external_id``
    (the feed's own string id) and ``feed``. ``truth`` has one row per listing: ``event_id``,
    ``true_event_id`` (the real event it lists), ``kind`` (``original``, ``duplicate``,
    ``next_week``, ``same_day_session``), ``true_category``, ``category_given`` and ``flags``
    (the quality flags it deserves, a list of names).
    """

    listings: pl.DataFrame
    truth: pl.DataFrame


def plant_listings(
    spec: GenerationSpec, plan: ListingPlan | None = None, catalogue: pl.DataFrame | None = None
) -> PlantedListings:
    """The catalogue of ``spec`` (or ``catalogue``) as partner feeds land it; deterministic."""
    plan = plan or ListingPlan()
    rng = np.random.default_rng([spec.seed, _STREAM_LISTINGS])
    events = catalogue if catalogue is not None else make_events(spec)
    base = _base_listings(one_event_per_venue_and_time(events), rng)
    look_alikes = _look_alikes(base, plan, rng)
    real = pl.concat([base, look_alikes], how="vertical_relaxed")
    copies = _duplicates(real, plan, rng)
    listings = pl.concat([real, copies], how="vertical_relaxed")
    listings = _drop_categories(listings, plan.uncategorised_share, rng)
    listings = _plant_junk(listings, plan.junk_share, rng)
    listings = _with_external_ids(listings, rng)
    truth_columns = ["true_event_id", "kind", "true_category", "flags"]
    truth = listings.select(
        "event_id",
        *truth_columns,
        pl.col("category").is_not_null().alias("category_given"),
    )
    landed = [c for c in (*EVENTS.names, "series_id", "venue_id", "external_id") if c in listings]
    return PlantedListings(
        listings=listings.select(*dict.fromkeys(landed), "feed").sort("event_id"),
        truth=truth.sort("event_id"),
    )


def one_event_per_venue_and_time(events: pl.DataFrame) -> pl.DataFrame:
    """The catalogue without events double-booked at a venue (another event of the venue starts
    within :data:`VENUE_TURNOVER` of it; the lowest id is kept).

    A venue hosts one event at a time: two listings at one venue and one time are the same event
    to any reader, so a generated catalogue that double-books would plant duplicates labelled as
    different events. Events without a venue (online) are kept.
    """
    if "venue_id" not in events.columns:
        return events
    ordered = events.sort("venue_id", "starts_at", "event_id")
    previous_start = pl.col("starts_at").shift(1).over("venue_id")
    gaps = ordered.with_columns((pl.col("starts_at") - previous_start).alias("_gap"))
    clash = pl.col("venue_id").is_not_null() & (pl.col("_gap") < VENUE_TURNOVER)
    return gaps.filter(~clash.fill_null(False)).drop("_gap").sort("event_id")


def _base_listings(events: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Every catalogue event once, in one of the feeds."""
    feed = rng.integers(0, len(FEEDS), events.height)
    return events.with_columns(
        pl.col("event_id").alias("true_event_id"),
        pl.lit("original").alias("kind"),
        pl.col("category").alias("true_category"),
        pl.Series("_feed", feed, dtype=pl.Int64),
        pl.lit([], dtype=pl.List(pl.String)).alias("flags"),
    )


def _renumber(frame: pl.DataFrame, after: int) -> pl.DataFrame:
    return frame.with_columns(pl.int_range(after + 1, after + 1 + pl.len()).alias("event_id"))


def _look_alikes(base: pl.DataFrame, plan: ListingPlan, rng: np.random.Generator) -> pl.DataFrame:
    """Different events that look like existing ones: a series' next week, a later session."""
    n = base.height
    pick = rng.random(n)
    # An event of a series the catalogue already numbers has its real next instances there (the
    # natural hard negatives); a planted one would copy a real event.
    in_series = (
        base["series_id"].is_not_null().to_numpy() if "series_id" in base else np.zeros(n, bool)
    )
    next_week = base.filter(pl.Series((pick < plan.next_week_share) & ~in_series))
    session = base.filter(
        pl.Series(
            (pick >= plan.next_week_share)
            & (pick < plan.next_week_share + plan.same_day_session_share)
        )
    )
    week = pl.duration(days=7)
    # The next instance of a numbered series carries the next number ("#41" becomes "#42").
    numbered = pl.col("title").str.extract(r"#(\d+)", 1).cast(pl.Int64)
    next_title = (
        pl.when(numbered.is_not_null())
        .then(
            pl.col("title").str.replace(r"#\d+", pl.format("#{}", (numbered + 1).cast(pl.String)))
        )
        .otherwise(pl.col("title"))
    )
    next_week = next_week.with_columns(
        next_title.alias("title"),
        (pl.col("starts_at") + week).alias("starts_at"),
        (pl.col("ends_at") + week).alias("ends_at"),
        (pl.col("created_at") + week).alias("created_at"),
        (pl.col("updated_at") + week).alias("updated_at"),
        pl.lit("next_week").alias("kind"),
    )
    later = pl.duration(minutes=pl.Series(rng.choice([180, 210, 240], session.height)))
    session = session.with_columns(
        (pl.col("starts_at") + later).alias("starts_at"),
        (pl.col("ends_at") + later).alias("ends_at"),
        pl.lit("same_day_session").alias("kind"),
    )
    look_alikes = _renumber(pl.concat([next_week, session]), base["event_id"].max() or 0)
    return look_alikes.with_columns(pl.col("event_id").alias("true_event_id"))


def _typo(title: pl.Expr, position: pl.Series) -> pl.Expr:
    """Swap two neighbouring characters at ``position`` (clipped into the title)."""
    at = pl.min_horizontal(pl.lit(position), title.str.len_chars() - 2).clip(lower_bound=0)
    return pl.concat_str(
        title.str.slice(0, at),
        title.str.slice(at + 1, 1),
        title.str.slice(at, 1),
        title.str.slice(at + 2),
    )


def _duplicates(real: pl.DataFrame, plan: ListingPlan, rng: np.random.Generator) -> pl.DataFrame:
    """Copies of real events in other feeds, each perturbed as partner feeds do."""
    chosen = real.filter(pl.Series(rng.random(real.height) < plan.duplicate_share))
    third = chosen.filter(pl.Series(rng.random(chosen.height) < plan.third_feed_share))
    shift = pl.concat(
        [
            chosen.with_columns(pl.lit(1, dtype=pl.Int64).alias("_shift")),
            third.with_columns(pl.lit(2, dtype=pl.Int64).alias("_shift")),
        ]
    )
    m = shift.height
    r = {
        name: rng.random(m) for name in ("title", "hour", "coords", "desc", "venue", "org", "city")
    }
    suffix = rng.integers(0, len(TICKET_SUFFIXES), m)
    distance_m = rng.uniform(80, 450, m)
    bearing = rng.uniform(0, 2 * np.pi, m)
    hour = np.where(rng.random(m) < 0.5, -60, 60)
    listed_later = rng.uniform(0, 1, m)
    lat = shift["lat"].to_numpy()
    dlat = distance_m * np.cos(bearing) / 111_320
    dlng = distance_m * np.sin(bearing) / (111_320 * np.cos(np.radians(np.nan_to_num(lat))))

    title = pl.col("title")
    new_title = (
        pl.when(pl.Series(r["title"] < 0.35))
        .then(_typo(title, pl.Series(rng.integers(2, 12, m))))
        .when(pl.Series(r["title"] < 0.7))
        .then(title + pl.Series([TICKET_SUFFIXES[i] for i in suffix]))
        .when(pl.Series(r["title"] < 0.8))
        .then(_typo(title, pl.Series(rng.integers(2, 12, m))) + pl.lit(" [Tickets]"))
        .otherwise(title)
    )
    first_sentence = pl.col("description").str.extract(r"^([^.]*\.[^.]*\.)", 1)
    new_description = (
        pl.when(pl.Series(r["desc"] < 0.3))
        .then(pl.coalesce(first_sentence, pl.col("description")))
        .when(pl.Series(r["desc"] < 0.55))
        .then(pl.col("description") + pl.lit(" Booking fees may apply."))
        .otherwise(pl.col("description"))
    )
    venue = pl.col("venue_name")
    new_venue = (
        pl.when(pl.Series(r["venue"] < 0.15))
        .then(venue.str.to_lowercase())
        .when(pl.Series(r["venue"] < 0.3))
        .then(pl.lit("The ") + venue)
        .otherwise(venue)
    )
    moved = pl.Series(r["coords"] < 0.75)
    offset = pl.duration(minutes=pl.Series(hour))
    hour_off = pl.Series(r["hour"] < 0.3)
    span = (pl.col("starts_at") - pl.col("created_at")).dt.total_seconds()
    # Listed later than the original, but always before the start (no false "start in past").
    created = pl.col("created_at") + pl.duration(
        seconds=(span * pl.lit(pl.Series(listed_later)) * 0.5).cast(pl.Int64)
    )
    copies = shift.with_columns(
        new_title.alias("title"),
        new_description.alias("description"),
        new_venue.alias("venue_name"),
        pl.when(hour_off)
        .then(pl.col("starts_at") + offset)
        .otherwise("starts_at")
        .alias("starts_at"),
        pl.when(hour_off).then(pl.col("ends_at") + offset).otherwise("ends_at").alias("ends_at"),
        pl.when(moved)
        .then((pl.col("lat") + pl.Series(dlat)).round(5))
        .otherwise("lat")
        .alias("lat"),
        pl.when(moved)
        .then((pl.col("lng") + pl.Series(dlng)).round(5))
        .otherwise("lng")
        .alias("lng"),
        pl.when(pl.Series(r["org"] < 0.3))
        .then(pl.lit(None, dtype=pl.Int64))
        .otherwise("organizer_id")
        .alias("organizer_id"),
        pl.when(pl.Series(r["city"] < 0.1))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise("city")
        .alias("city"),
        created.alias("created_at"),
        pl.max_horizontal(created, pl.col("updated_at")).alias("updated_at"),
        ((pl.col("_feed") + pl.col("_shift")) % len(FEEDS)).alias("_feed"),
        pl.lit("duplicate").alias("kind"),
        pl.lit([DUPLICATE_FLAG], dtype=pl.List(pl.String)).alias("flags"),
    ).drop("_shift")
    return _renumber(copies, real["event_id"].max() or 0)


def _drop_categories(frame: pl.DataFrame, share: float, rng: np.random.Generator) -> pl.DataFrame:
    dropped = pl.Series(rng.random(frame.height) < share)
    return frame.with_columns(
        pl.when(dropped).then(pl.lit(None, dtype=pl.String)).otherwise("category").alias("category")
    )


def _plant_junk(frame: pl.DataFrame, share: float, rng: np.random.Generator) -> pl.DataFrame:
    """Junk on events listed once only, so a junk change never decides which copy is canonical."""
    repeated = frame.filter(pl.col("true_event_id").is_duplicated())["true_event_id"]
    single = ~pl.col("true_event_id").is_in(repeated.implode()) & (pl.col("kind") == "original")
    eligible = frame.select(single.alias("e"))["e"].to_numpy()
    chosen = eligible & (rng.random(frame.height) < share)
    # Kinds in turn rather than at random, so that even a small plan has every kind.
    kind = np.where(chosen, (np.cumsum(chosen) - 1) % len(JUNK_KINDS), -1)
    junk = pl.Series("_junk", kind)
    short = pl.Series(
        [SHORT_DESCRIPTIONS[i] for i in rng.integers(0, len(SHORT_DESCRIPTIONS), frame.height)]
    )
    shout = pl.Series(rng.choice(["!!!", "???", "!!!!!", "$$$"], frame.height))
    late = pl.duration(hours=pl.Series(rng.integers(2, 240, frame.height)))

    def when(name: str) -> pl.Expr:
        return junk == JUNK_KINDS.index(name)

    return frame.with_columns(
        pl.when(when("missing_description"))
        .then(pl.lit(None, dtype=pl.String))
        .when(when("short_description"))
        .then(short)
        .when(when("link_farm"))
        .then(pl.col("description") + pl.lit(LINK_FARM))
        .otherwise("description")
        .alias("description"),
        pl.when(when("all_caps"))
        .then(pl.col("title").str.to_uppercase())
        .when(when("repeated_punctuation"))
        .then(pl.col("title") + pl.lit(" ") + shout)
        .otherwise("title")
        .alias("title"),
        pl.when(when("impossible_capacity"))
        .then(pl.lit(5_000_000, dtype=pl.Int64))
        .otherwise("capacity")
        .alias("capacity"),
        pl.when(when("impossible_price")).then(pl.lit(250_000.0)).otherwise("price").alias("price"),
        pl.when(when("start_in_past"))
        .then(pl.col("starts_at") + late)
        .otherwise("created_at")
        .alias("created_at"),
        pl.when(when("start_in_past"))
        .then(pl.max_horizontal(pl.col("starts_at") + late, pl.col("updated_at")))
        .otherwise("updated_at")
        .alias("updated_at"),
        pl.when(junk >= 0)
        .then(pl.concat_list(pl.col("flags"), pl.Series([JUNK_KINDS[max(k, 0)] for k in kind])))
        .otherwise("flags")
        .alias("flags"),
    )


def _with_external_ids(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Each feed's own alphanumeric id, and the feed's name."""
    codes = rng.integers(16**7, 16**8, frame.height)
    hex_codes = pl.Series(np.char.mod("%08x", codes))
    prefix = pl.col("_feed").replace_strict(dict(enumerate(_FEED_PREFIX)), return_dtype=pl.String)
    return frame.with_columns(
        pl.concat_str(prefix, pl.lit("-"), hex_codes).alias("external_id"),
        pl.col("_feed")
        .replace_strict(dict(enumerate(FEEDS)), return_dtype=pl.String)
        .alias("feed"),
    ).drop("_feed")
