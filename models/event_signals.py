"""What a user's past says about each upcoming event: the signals event recommenders rank by.

Real event data is organisers, recurring series and venues, not independent items (Macedo et
al., RecSys 2015): people return to the groups and series they attended, go where they usually
go, at the times they usually go, and pick among a group's events by what each is about. Most
candidates are new events without any interaction, so every signal here except ``cf`` reaches
them.

Two halves, both plain arrays:

- :class:`Catalogue`, the item side, built once from the items frame: organiser, series (given
  or derived from the organiser and the normalised title), venue (given or derived from the
  coordinates), category, weekly time slot, coordinates, start and publication times, and two
  text spaces: TF-IDF of title + description, and "topics", the same words plus tags with each
  organiser's boilerplate (what nearly all its events say) removed.
- :class:`History`, the user side at a reference time: which organisers, series, venues,
  categories, slots and words each user's past events had, where they usually go, and how many
  people already interacted with each event.

:func:`signal_block` turns the two into one dense users × candidates block per signal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer

from models.features import as_list
from models.geo import EARTH_RADIUS_KM, unit_vectors
from models.matrix import encode, place_rows, row_normalize, to_utc

# The signals, in the column order of a feature tensor.
SIGNALS = (
    "organizer_share",
    "organizer_count",
    "series_count",
    "series_recency",
    "organizer_recency",
    "venue_share",
    "category_share",
    "proximity",
    "slot_lift",
    "text",
    "topics",
    "interests",
    "popularity",
    "popularity_rate",
    "organizer_popularity",
    "cf",
)

N_SLOTS = 7 * 6  # weekday × four-hour band of the start
# Proximity of a candidate whose place or whose user's place is unknown: as if 100 km away.
_UNKNOWN_KM = 100.0
# A word on at least this share of an organiser's events (with at least this many events) is
# that organiser's boilerplate: it cannot tell its events apart.
_BOILERPLATE_SHARE = 0.6
_BOILERPLATE_MIN_EVENTS = 4
# How fast returning fades: a series or organiser last attended this many days ago counts 1/e.
_RECENCY_DAYS = 60.0
# Smoothing of a user's weekly slot habit towards the catalogue's, in pseudo-events.
_SLOT_PRIOR = 3.0
_US_PER_DAY = 86_400_000_000
_UNKNOWN_START = np.iinfo(np.int64).max
_UNKNOWN_CREATED = np.iinfo(np.int64).min

_SERIES_NOISE = re.compile(
    r"\b(19|20)\d\d\b|#\s*\d+|\b\d+(st|nd|rd|th)?\b|\b(vol|no|part|edition|ed|ep|episode|session)"
    r"\b\.?|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b|\b(mon|tue|wed|thu|"
    r"fri|sat|sun)[a-z]*\b|\b[ivxlc]+\b"
)


def normalise_title(titles: pl.Series) -> pl.Series:
    """Titles reduced to what stays the same across a series: lower case, without numbers,
    ``#41``, years, month and weekday names, edition words, roman numerals and punctuation.

    "Python Meetup #41" and "Python Meetup #42 (December)" both become "python meetup".
    """
    lowered = titles.cast(pl.String).str.to_lowercase()
    stripped = lowered.str.replace_all(_SERIES_NOISE.pattern, " ")
    words = stripped.str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    return words.str.replace_all(r"\s+", " ")


@dataclass
class Catalogue:
    """Item-side codes and vectors, row ``i`` for the item at position ``i`` of the universe."""

    organizer: np.ndarray  # int64 codes, -1 unknown
    series: np.ndarray
    venue: np.ndarray
    category: np.ndarray
    slot: np.ndarray
    xyz: np.ndarray  # (items, 3) unit vectors, NaN unknown
    starts_us: np.ndarray  # epoch µs, INT64_MAX unknown
    created_us: np.ndarray  # epoch µs, INT64_MIN unknown
    text: sp.csr_matrix  # TF-IDF of title + description, unit rows
    topics: sp.csr_matrix  # distinctive words and tags, unit rows
    text_vectorizer: TfidfVectorizer | None
    n_organizers: int
    n_series: int
    n_venues: int
    n_categories: int

    @property
    def size(self) -> int:
        return self.organizer.size


def _codes(values: pl.Series) -> tuple[np.ndarray, int]:
    """Dense codes 0..n-1 of the distinct non-null values (-1 for null) and n."""
    physical = values.cast(pl.String).cast(pl.Categorical).to_physical()
    codes = physical.fill_null(-1).to_numpy().astype(np.int64)
    # Categorical codes are global: renumber densely so matrices stay small.
    distinct, dense = np.unique(codes, return_inverse=True)
    dense = dense.astype(np.int64)
    if distinct.size and distinct[0] == -1:
        dense -= 1
        return dense, int(distinct.size - 1)
    return dense, int(distinct.size)


def _place(values: np.ndarray, pos: np.ndarray, size: int, fill: object) -> np.ndarray:
    out = np.full((size, *values.shape[1:]), fill, dtype=values.dtype)
    keep = pos >= 0
    out[pos[keep]] = values[keep]
    return out


def _column(items: pl.DataFrame, name: str, dtype: pl.DataType = pl.String) -> pl.Series:
    if name in items.columns:
        return items[name].cast(dtype, strict=False)
    return pl.Series(name, [None] * items.height, dtype=dtype)


def build_catalogue(items: pl.DataFrame | None, item_ids: np.ndarray) -> Catalogue:
    """The catalogue of ``item_ids`` (coded ids, sorted) from an items frame in our schema."""
    n = item_ids.size
    if items is None or items.height == 0:
        items = pl.DataFrame({"item_id": pl.Series([], dtype=pl.Int64)})
    items = items.unique("item_id", keep="first", maintain_order=True)
    pos = encode(item_ids, items["item_id"].cast(pl.Int64).to_numpy())
    organizer, n_org = _codes(_column(items, "organizer_id"))
    title = _column(items, "title").fill_null("")
    series_frame = pl.DataFrame(
        {
            "given": _column(items, "series_id"),
            "organizer": _column(items, "organizer_id").fill_null(""),
            "title": normalise_title(title),
        }
    ).select(
        pl.when(pl.col("given").is_not_null())
        .then(pl.concat_str([pl.lit("given|"), pl.col("given")]))
        .when(pl.col("title") != "")
        .then(pl.concat_str([pl.col("organizer"), pl.lit("|"), pl.col("title")]))
        .alias("key")
    )
    series, n_series = _codes(series_frame["key"])
    lat = _column(items, "lat", pl.Float64)
    lng = _column(items, "lng", pl.Float64)
    venue_frame = pl.DataFrame(
        {"given": _column(items, "venue_id"), "lat": lat, "lng": lng}
    ).select(
        pl.when(pl.col("given").is_not_null())
        .then(pl.concat_str([pl.lit("given|"), pl.col("given")]))
        # About 100 m: listings of one venue differ in their last decimals.
        .when(pl.col("lat").is_not_null() & pl.col("lng").is_not_null())
        .then(pl.format("{}|{}", pl.col("lat").round(3), pl.col("lng").round(3)))
        .alias("key")
    )
    venue, n_venue = _codes(venue_frame["key"])
    category, n_cat = _codes(_column(items, "category").str.to_lowercase().str.strip_chars())
    starts = (
        to_utc(items["starts_at"])
        if "starts_at" in items.columns
        else pl.Series([None] * items.height, dtype=pl.Datetime("us", "UTC"))
    )
    slot = (
        ((starts.dt.weekday() - 1).cast(pl.Int64) * 6 + (starts.dt.hour() // 4).cast(pl.Int64))
        .fill_null(-1)
        .to_numpy()
    )
    starts_us = starts.dt.epoch("us").fill_null(_UNKNOWN_START).to_numpy()
    created_us = (
        to_utc(items["created_at"]).dt.epoch("us").fill_null(_UNKNOWN_CREATED).to_numpy()
        if "created_at" in items.columns
        else np.full(items.height, _UNKNOWN_CREATED, dtype=np.int64)
    )
    xyz = unit_vectors(lat.to_numpy(), lng.to_numpy()) if items.height else np.empty((0, 3))
    description = _column(items, "description").fill_null("")
    documents = (title + " " + description).to_list()
    text, vectorizer = _text_space(documents)
    topics = _topic_space(items, documents, organizer, n_org)
    return Catalogue(
        organizer=_place(organizer, pos, n, -1),
        series=_place(series, pos, n, -1),
        venue=_place(venue, pos, n, -1),
        category=_place(category, pos, n, -1),
        slot=_place(slot.astype(np.int64), pos, n, -1),
        xyz=_place(xyz.astype(np.float64), pos, n, np.nan),
        starts_us=_place(starts_us.astype(np.int64), pos, n, _UNKNOWN_START),
        created_us=_place(created_us.astype(np.int64), pos, n, _UNKNOWN_CREATED),
        text=place_rows(text, pos, n).astype(np.float32),
        topics=place_rows(topics, pos, n).astype(np.float32),
        text_vectorizer=vectorizer,
        n_organizers=n_org,
        n_series=n_series,
        n_venues=n_venue,
        n_categories=n_cat,
    )


def _text_space(documents: list[str]) -> tuple[sp.csr_matrix, TfidfVectorizer | None]:
    """Unit TF-IDF rows of title + description (sublinear counts, English stop words)."""
    vectorizer = TfidfVectorizer(
        sublinear_tf=True,
        stop_words="english",
        min_df=2 if len(documents) >= 50 else 1,
        max_df=0.5 if len(documents) >= 50 else 1.0,
        max_features=50_000,
        dtype=np.float32,
    )
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # no documents, or only stop words
        return sp.csr_matrix((len(documents), 0), dtype=np.float32), None
    return sp.csr_matrix(matrix, dtype=np.float32), vectorizer


def _topic_space(
    items: pl.DataFrame, documents: list[str], organizer: np.ndarray, n_org: int
) -> sp.csr_matrix:
    """Words and tags of each event minus its organiser's boilerplate, TF-IDF weighted.

    Organisers stamp the same 10–20 tags (and often the same paragraph) on every event; those
    words say which organiser an event is from (the organiser signals know that already), not
    which of its events a user picks, yet they would dominate a plain text similarity.
    """
    if "tags" in items.columns:
        tags = as_list(items["tags"]).list.eval(
            pl.element().str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", "_")
        )
        tag_text = tags.list.eval(pl.lit("tag_") + pl.element()).list.join(" ").fill_null("")
        documents = [f"{d} {t}" for d, t in zip(documents, tag_text.to_list(), strict=True)]
    counter = CountVectorizer(
        stop_words="english", min_df=2 if len(documents) >= 50 else 1, dtype=np.float32
    )
    try:
        counts = sp.csr_matrix(counter.fit_transform(documents), dtype=np.float32)
    except ValueError:
        return sp.csr_matrix((len(documents), 0), dtype=np.float32)
    known = organizer >= 0
    if known.any() and n_org:
        presence = counts.copy()
        presence.data[:] = 1.0
        owner = sp.csr_matrix(
            (np.ones(known.sum(), np.float32), (organizer[known], np.flatnonzero(known))),
            shape=(n_org, counts.shape[0]),
        )
        per_org = np.asarray(owner.sum(axis=1)).ravel()
        share = sp.csr_matrix(owner @ presence)
        share = sp.csr_matrix(sp.diags(1.0 / np.maximum(per_org, 1.0)) @ share)
        share.data[:] = np.where(
            (share.data >= _BOILERPLATE_SHARE)
            & (np.repeat(per_org, np.diff(share.indptr)) >= _BOILERPLATE_MIN_EVENTS),
            1.0,
            0.0,
        )
        share.eliminate_zeros()
        coo = counts.tocoo()
        row_org = organizer[coo.row]
        boiler = np.zeros(coo.nnz, dtype=bool)
        has = row_org >= 0
        boiler[has] = np.asarray(share[row_org[has], coo.col[has]]).ravel() > 0
        counts = sp.csr_matrix(
            (coo.data[~boiler], (coo.row[~boiler], coo.col[~boiler])), shape=counts.shape
        )
    weighted = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    return row_normalize(sp.csr_matrix(weighted, dtype=np.float32))


def _one_hot(codes: np.ndarray, n: int) -> sp.csr_matrix:
    """Items × levels indicator (rows with code -1 stay empty)."""
    known = codes >= 0
    return sp.csr_matrix(
        (np.ones(known.sum(), np.float32), (np.flatnonzero(known), codes[known])),
        shape=(codes.size, max(n, 0)),
    )


@dataclass
class History:
    """What each user did in the past given; row ``n_users`` is a user without any past.

    Sparse users × organisers / series / venues / categories counts of distinct past events,
    a smoothed weekly slot habit (log lift over the catalogue's), the usual place (median of
    past event coordinates, else the home), text and topic profiles (mean of past events'
    rows), and per item / organiser the number of users who interacted.
    """

    seen: sp.csr_matrix  # users × items, 1 for a past interaction
    events: np.ndarray  # distinct past events per user
    by_organizer: sp.csr_matrix
    by_series: sp.csr_matrix
    last_organizer: sp.csr_matrix  # start (days since epoch) of the latest past event there
    last_series: sp.csr_matrix
    by_venue: sp.csr_matrix
    by_category: sp.csr_matrix
    slot_lift: np.ndarray  # (users + 1) × N_SLOTS float32
    place_xyz: np.ndarray  # (users + 1) × 3
    text_profile: sp.csr_matrix
    topic_profile: sp.csr_matrix
    interest_profile: sp.csr_matrix | None
    item_users: np.ndarray  # users per item before now
    organizer_users: np.ndarray


def build_history(
    past: pl.DataFrame,
    catalogue: Catalogue,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    users: pl.DataFrame | None = None,
) -> History:
    """The history of every user in ``user_ids`` from the coded interactions ``past``."""
    n_users = user_ids.size
    rows = encode(user_ids, past["user_id"].to_numpy())
    cols = encode(item_ids, past["item_id"].to_numpy())
    keep = (rows >= 0) & (cols >= 0)
    seen = sp.csr_matrix(
        (np.ones(keep.sum(), np.float32), (rows[keep], cols[keep])),
        shape=(n_users + 1, item_ids.size),
    )
    seen.sum_duplicates()
    seen.data[:] = 1.0
    events = np.asarray(seen.sum(axis=1)).ravel().astype(np.float32)

    def by(codes: np.ndarray, n: int) -> sp.csr_matrix:
        return sp.csr_matrix(seen @ _one_hot(codes, n))

    slot_counts = (seen @ _one_hot(catalogue.slot, N_SLOTS)).toarray()
    catalogue_slots = np.bincount(catalogue.slot[catalogue.slot >= 0], minlength=N_SLOTS)
    prior = (catalogue_slots + 1.0) / (catalogue_slots.sum() + N_SLOTS)
    habit = (slot_counts + _SLOT_PRIOR * prior) / (
        slot_counts.sum(axis=1, keepdims=True) + _SLOT_PRIOR
    )
    slot_lift = np.log(habit / prior).astype(np.float32)

    place = _usual_places(seen, catalogue, users, user_ids)
    profile_weights = sp.diags(1.0 / np.maximum(events, 1.0)).astype(np.float32)
    text_profile = row_normalize(sp.csr_matrix(profile_weights @ seen @ catalogue.text))
    topic_profile = row_normalize(sp.csr_matrix(profile_weights @ seen @ catalogue.topics))
    item_users = np.asarray(seen.sum(axis=0)).ravel().astype(np.float32)
    organizer_users = np.bincount(
        catalogue.organizer[catalogue.organizer >= 0],
        weights=item_users[catalogue.organizer >= 0],
        minlength=catalogue.n_organizers,
    ).astype(np.float32)
    return History(
        seen=seen,
        events=events,
        by_organizer=by(catalogue.organizer, catalogue.n_organizers),
        by_series=by(catalogue.series, catalogue.n_series),
        last_organizer=_latest(seen, catalogue.organizer, catalogue.n_organizers, catalogue),
        last_series=_latest(seen, catalogue.series, catalogue.n_series, catalogue),
        by_venue=by(catalogue.venue, catalogue.n_venues),
        by_category=by(catalogue.category, catalogue.n_categories),
        slot_lift=slot_lift,
        place_xyz=place,
        text_profile=text_profile,
        topic_profile=topic_profile,
        interest_profile=_interest_profiles(users, user_ids, catalogue),
        item_users=item_users,
        organizer_users=organizer_users,
    )


def _latest(seen: sp.csr_matrix, codes: np.ndarray, n: int, catalogue: Catalogue) -> sp.csr_matrix:
    """Users × levels: start day (days since epoch) of the latest past event at each level."""
    coo = seen.tocoo()
    level = codes[coo.col]
    starts = catalogue.starts_us[coo.col]
    keep = (level >= 0) & (starts != _UNKNOWN_START)
    frame = (
        pl.DataFrame({"u": coo.row[keep], "l": level[keep], "d": starts[keep] / _US_PER_DAY})
        .group_by("u", "l")
        .agg(pl.col("d").max())
    )
    return sp.csr_matrix(
        (frame["d"].to_numpy(), (frame["u"].to_numpy(), frame["l"].to_numpy())),
        shape=(seen.shape[0], max(n, 0)),
    )


def _usual_places(
    seen: sp.csr_matrix, catalogue: Catalogue, users: pl.DataFrame | None, user_ids: np.ndarray
) -> np.ndarray:
    """Per user the median of past events' coordinates, else the home, else unknown (NaN)."""
    n_rows = seen.shape[0]
    place = np.full((n_rows, 3), np.nan)
    if users is not None and {"home_lat", "home_lng"} <= set(users.columns):
        homes = users.select(
            pl.col("user_id").cast(pl.Int64),
            pl.col("home_lat").cast(pl.Float64, strict=False),
            pl.col("home_lng").cast(pl.Float64, strict=False),
        ).unique("user_id", keep="first")
        pos = encode(user_ids, homes["user_id"].to_numpy())
        keep = pos >= 0
        xyz = unit_vectors(homes["home_lat"].to_numpy(), homes["home_lng"].to_numpy())
        place[pos[keep]] = xyz[keep]
    coo = seen.tocoo()
    located = np.isfinite(catalogue.xyz[coo.col]).all(axis=1)
    if located.any():
        # Median per coordinate of the unit vectors, renormalised: close to the median of
        # latitudes and longitudes, and well defined across the antimeridian.
        frame = pl.DataFrame(
            {
                "user": coo.row[located],
                "x": catalogue.xyz[coo.col[located], 0],
                "y": catalogue.xyz[coo.col[located], 1],
                "z": catalogue.xyz[coo.col[located], 2],
            }
        )
        medians = frame.group_by("user").median()
        vectors = medians.select("x", "y", "z").to_numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        place[medians["user"].to_numpy()] = vectors / np.where(norms > 0, norms, 1.0)
    return place


def _interest_profiles(
    users: pl.DataFrame | None, user_ids: np.ndarray, catalogue: Catalogue
) -> sp.csr_matrix | None:
    """Declared interests in the text space (None when nobody declared any)."""
    if users is None or "interests" not in users.columns or catalogue.text_vectorizer is None:
        return None
    frame = users.select(
        pl.col("user_id").cast(pl.Int64), as_list(users["interests"]).list.join(" ").alias("t")
    ).filter(pl.col("t").is_not_null() & (pl.col("t") != ""))
    if frame.height == 0:
        return None
    pos = encode(user_ids, frame["user_id"].to_numpy())
    vectors = sp.csr_matrix(catalogue.text_vectorizer.transform(frame["t"].to_list()))
    return row_normalize(place_rows(vectors, pos, user_ids.size + 1))


@dataclass
class Candidates:
    """The item side of one scoring call: positions and their indicator matrices, built once."""

    pos: np.ndarray
    organizer: sp.csr_matrix
    series: sp.csr_matrix
    venue: sp.csr_matrix
    category: sp.csr_matrix
    slot: np.ndarray
    xyz: np.ndarray
    text: sp.csr_matrix
    topics: sp.csr_matrix
    now_days: float
    popularity: np.ndarray
    popularity_rate: np.ndarray
    organizer_popularity: np.ndarray
    # Stacked text spaces per combination of textual signals (see weighted_textual).
    stacked: dict = field(default_factory=dict)


def candidates_for(
    catalogue: Catalogue, history: History, pos: np.ndarray, now_us: int
) -> Candidates:
    """Indicator matrices and per-candidate values for items at ``pos``, as of ``now_us``."""

    def hot(codes: np.ndarray, n: int) -> sp.csr_matrix:
        return sp.csr_matrix(_one_hot(codes[pos], n).T)

    users = history.item_users[pos]
    created = catalogue.created_us[pos]
    known_created = created != _UNKNOWN_CREATED
    age_days = np.where(known_created, (now_us - created) / _US_PER_DAY, 30.0)
    org = catalogue.organizer[pos]
    org_users = np.zeros(pos.size, dtype=np.float32)
    org_users[org >= 0] = history.organizer_users[org[org >= 0]]
    return Candidates(
        pos=pos,
        organizer=hot(catalogue.organizer, catalogue.n_organizers),
        series=hot(catalogue.series, catalogue.n_series),
        venue=hot(catalogue.venue, catalogue.n_venues),
        category=hot(catalogue.category, catalogue.n_categories),
        slot=catalogue.slot[pos],
        xyz=catalogue.xyz[pos],
        text=sp.csr_matrix(catalogue.text[pos]),
        topics=sp.csr_matrix(catalogue.topics[pos]),
        now_days=now_us / _US_PER_DAY,
        popularity=np.log1p(users).astype(np.float32),
        popularity_rate=np.log1p(users / np.maximum(age_days, 1.0)).astype(np.float32),
        organizer_popularity=np.log1p(org_users).astype(np.float32),
    )


# Signals that depend on the candidate only: a row broadcast over the users.
PER_CANDIDATE = ("popularity", "popularity_rate", "organizer_popularity")
# Signals that are sparse products (zero where the user never went to that organiser, series,
# venue or category): a linear scorer sums them before densifying once.
SPARSE = (
    "organizer_share",
    "organizer_count",
    "series_count",
    "venue_share",
    "category_share",
    "series_recency",
    "organizer_recency",
)
# Cosine signals: profile · event vector in a text space.
TEXTUAL = ("text", "topics", "interests")


def sparse_signal(
    name: str, history: History, cands: Candidates, rows: np.ndarray
) -> sp.csr_matrix:
    """One of :data:`SPARSE` as a float32 CSR block (rows × candidates)."""
    if name in ("series_recency", "organizer_recency"):
        latest, hot = (
            (history.last_series, cands.series)
            if name == "series_recency"
            else (history.last_organizer, cands.organizer)
        )
        product = sp.csr_matrix(latest[rows] @ hot)
        age = np.clip(cands.now_days - product.data, 0.0, None)
        product.data = np.exp(-age / _RECENCY_DAYS)
        return product.astype(np.float32)
    counts, hot = {
        "organizer_share": (history.by_organizer, cands.organizer),
        "organizer_count": (history.by_organizer, cands.organizer),
        "series_count": (history.by_series, cands.series),
        "venue_share": (history.by_venue, cands.venue),
        "category_share": (history.by_category, cands.category),
    }[name]
    product = sp.csr_matrix(counts[rows] @ hot, dtype=np.float32)
    if name.endswith("_count"):
        np.log1p(product.data, out=product.data)
    else:
        _divide_rows(product, history.events[rows])
    return product


def weighted_textual(
    weights: dict[str, float], history: History, cands: Candidates, rows: np.ndarray
) -> np.ndarray | None:
    """Σ weight × cosine over the :data:`TEXTUAL` signals in one sparse × dense product.

    ``w₁·(p₁·t₁) + w₂·(p₂·t₂) = [w₁p₁, w₂p₂]·[t₁, t₂]``: the profiles and the event vectors of
    the text spaces are stacked side by side (the stacked events once per candidate set).
    """
    parts = [
        (weights[name], profile, items)
        for name, profile, items in (
            ("text", history.text_profile, cands.text),
            ("topics", history.topic_profile, cands.topics),
            ("interests", history.interest_profile, cands.text),
        )
        if weights.get(name) and profile is not None and items.shape[1]
    ]
    if not parts:
        return None
    key = tuple(name for name in TEXTUAL if weights.get(name))
    items = cands.stacked.get(key)
    if items is None:
        items = sp.csr_matrix(sp.hstack([part[2] for part in parts], format="csr"))
        cands.stacked[key] = items
    profiles = sp.hstack(
        [sp.csr_matrix(profile[rows]) * np.float32(weight) for weight, profile, _ in parts],
        format="csr",
    )
    dense = profiles.toarray().T
    return np.ascontiguousarray((items @ dense).T, dtype=np.float32)


def signal_block(
    name: str,
    history: History,
    cands: Candidates,
    rows: np.ndarray,
    cf_scores: np.ndarray | None = None,
) -> np.ndarray:
    """Dense float32 block (len(rows) × candidates) of one signal for history rows ``rows``.

    The count-based signals are transformed on the sparse product (most users have no past at
    most candidates' organisers, series and venues) and densified once.
    """
    n = rows.size
    width = cands.pos.size
    if name in SPARSE:
        return sparse_signal(name, history, cands, rows).toarray()
    if name == "proximity":
        return _proximity(history.place_xyz[rows], cands.xyz)
    if name == "slot_lift":
        out = np.zeros((n, width), dtype=np.float32)
        known = np.flatnonzero(cands.slot >= 0)
        out[:, known] = history.slot_lift[rows][:, cands.slot[known]]
        return out
    if name == "text":
        return _cosine(history.text_profile, rows, cands.text)
    if name == "topics":
        return _cosine(history.topic_profile, rows, cands.topics)
    if name == "interests":
        if history.interest_profile is None:
            return np.zeros((n, width), dtype=np.float32)
        return _cosine(history.interest_profile, rows, cands.text)
    if name in PER_CANDIDATE:
        return np.broadcast_to(getattr(cands, name), (n, width)).copy()
    if name == "cf":
        if cf_scores is None:
            return np.zeros((n, width), dtype=np.float32)
        top = cf_scores.max(axis=1, keepdims=True)
        return (cf_scores / np.where(top > 0, top, 1.0)).astype(np.float32)
    raise KeyError(f"unknown signal {name!r}; known: {SIGNALS}")


def _divide_rows(matrix: sp.csr_matrix, totals: np.ndarray) -> None:
    """Divide each row of ``matrix`` in place by its total (at least 1)."""
    per_value = np.repeat(np.maximum(totals, 1.0), np.diff(matrix.indptr))
    matrix.data /= per_value.astype(matrix.data.dtype)


def _cosine(profiles: sp.csr_matrix, rows: np.ndarray, items: sp.csr_matrix) -> np.ndarray:
    """Profiles of ``rows`` · item rows: sparse items × dense profiles (the fast order)."""
    if items.shape[1] == 0:
        return np.zeros((rows.size, items.shape[0]), dtype=np.float32)
    dense = profiles[rows].toarray().T  # features × users, bounded by the block size
    return np.ascontiguousarray((items @ dense).T, dtype=np.float32)


def _proximity(places: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``−log(1 + km)`` between each user's usual place and each event (unknown: 100 km).

    ``km = 2R·asin(√((1 − cos)/2))``: the dot product in double precision (metres matter), the
    rest in place in single precision.
    """
    out = np.full((places.shape[0], items.shape[0]), -np.log1p(_UNKNOWN_KM), dtype=np.float32)
    users = np.flatnonzero(np.isfinite(places).all(axis=1))
    events = np.flatnonzero(np.isfinite(items).all(axis=1))
    if users.size == 0 or events.size == 0:
        return out
    cosine = places[users] @ items[events].T
    np.subtract(1.0, cosine, out=cosine)
    half = cosine.astype(np.float32)
    del cosine
    np.multiply(half, np.float32(0.5), out=half)
    np.clip(half, 0.0, 1.0, out=half)
    np.sqrt(half, out=half)
    np.arcsin(half, out=half)
    np.multiply(half, np.float32(2.0 * EARTH_RADIUS_KM), out=half)
    np.log1p(half, out=half)
    np.negative(half, out=half)
    if users.size == out.shape[0] and events.size == out.shape[1]:
        return half
    out[np.ix_(users, events)] = half
    return out
