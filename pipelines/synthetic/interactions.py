"""Interactions drawn from the users' hidden tastes, vectorised end to end.

Each *journey* is one user discovering one event: a view, and then maybe a click, a favourite,
a share, a registration, a dismissal, and for past events attendance. The event of a journey is
drawn with probability proportional to

    category taste x distance decay from home x popularity (Zipf-like) x time x tag affinity,

factorised so no user x event matrix is ever built. Most journeys pick a category from the
user's taste (weighted by what the catalogue offers near home), a city from the distance decay
and an event inside that (category, city) cell by popularity and time; the others start from one
of the user's favourite tags and pick an event carrying it, by popularity, time and distance.
Times follow an exponential lead before each event's start, truncated to the history window, the
event's publication and ``now``: events draw interactions in the weeks before they start, and
upcoming events only the part of that lead that has already happened.

Output is produced in chunks of ``spec.chunk_rows`` rows, each from its own random stream, so
50 M rows never sit in memory at once and the result depends on the spec only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

from core.contracts import INTERACTION_SOURCES, INTERACTION_TYPES
from pipelines.synthetic.spec import GenerationSpec
from pipelines.synthetic.vocabulary import ALL_TAGS
from pipelines.synthetic.world import (
    CANCELLED,
    CITY_LAT,
    CITY_LNG,
    DRAFT,
    LEAD_DAYS,
    N_CATEGORIES,
    N_CITIES,
    STREAM_INTERACTIONS,
    event_state,
    rng_for,
    user_state,
)

VIEW, CLICK, FAVORITE, SHARE, REGISTER, ATTEND, DISMISS = (
    INTERACTION_TYPES.index(t)
    for t in ("view", "click", "favorite", "share", "register", "attend", "dismiss")
)
WEB, APP, RECOMMENDATION = (INTERACTION_SOURCES.index(s) for s in ("web", "app", "recommendation"))
PAGES = (
    "home",
    "search",
    "category",
    "city",
    "email",
    "organizer",
    "recommendations",
    "event",
    "check-in",
)
_BROWSE_PAGE_P = np.array([0.3, 0.3, 0.15, 0.1, 0.1, 0.05])
_RECS_PAGE, _EVENT_PAGE, _CHECKIN_PAGE = 6, 7, 8
MAX_POSITION = 20
MODEL_VERSIONS = ("popularity-v1", "item-knn-v2", "als-v3")
# (page, position) -> the JSON object written as ``context``; position 0 means "not a list".
CONTEXTS: tuple[str, ...] = tuple(
    f'{{"page":"{page}"}}' if pos == 0 else f'{{"page":"{page}","position":{pos}}}'
    for page in PAGES
    for pos in range(MAX_POSITION + 1)
)

# Share of journeys that start from a favourite tag rather than a category.
_TAG_SHARE = 0.3
_DISTANCE_KM = 200.0
_TRAVEL_FLOOR = 0.004
_SECONDS_PER_DAY = 86_400


def distance_decay() -> np.ndarray:
    """(home city, event city) weights: 1 at home, fading with great-circle distance, with a
    small floor for travellers so far cities are rare but possible."""
    lat, lng = np.radians(CITY_LAT), np.radians(CITY_LNG)
    dlat = lat[:, None] - lat[None, :]
    dlng = lng[:, None] - lng[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlng / 2) ** 2
    km = 2 * 6371.0 * np.arcsin(np.sqrt(a))
    return 0.3 * np.exp(-km / _DISTANCE_KM) * (km > 0) + (km == 0) + _TRAVEL_FLOOR


@dataclass(frozen=True)
class _Model:
    """Everything the per-chunk sampling needs, computed once per spec."""

    user_p: np.ndarray
    user_category_p: np.ndarray  # (user, category): taste x what is on offer near home
    home: np.ndarray
    taste: np.ndarray
    taste_max: np.ndarray
    favorite_tags: np.ndarray
    category: np.ndarray
    tags: np.ndarray
    starts: np.ndarray
    lead: np.ndarray
    earliest: np.ndarray  # first second an event can be seen (published, inside the window)
    exp_hi: np.ndarray  # exp(-min lead / mean lead): mass up to the latest possible time
    exp_lo: np.ndarray  # exp(-max lead / mean lead): mass up to the earliest possible time
    weight: np.ndarray
    status: np.ndarray
    capacity: np.ndarray
    free: np.ndarray
    order: np.ndarray  # events sorted by (category, city) cell
    cum: np.ndarray  # cumulative weight in that order
    cell_before: np.ndarray  # cumulative weight before each cell
    cell_total: np.ndarray
    cell_first: np.ndarray
    cell_last: np.ndarray
    city_cum: np.ndarray  # flattened (home, category, city) cumulative weights
    city_before: np.ndarray  # per (home, category) block
    city_total: np.ndarray
    n_tags: int
    pair_event: np.ndarray  # (event, tag) pairs sorted by tag: the event of each pair
    tag_cum: np.ndarray  # flattened (home, pair) cumulative weights
    tag_before: np.ndarray  # per (home, tag) block
    tag_total: np.ndarray


def _model(spec: GenerationSpec) -> _Model:
    users, events = user_state(spec), event_state(spec)
    now, window = spec.now_s, spec.window_start_s
    activity = users.activity if users.activity.sum() > 0 else np.ones(spec.users)

    lead = LEAD_DAYS[events.category] * _SECONDS_PER_DAY
    earliest = np.maximum(window, events.created_s)
    latest = np.minimum(now, events.starts_s)
    open_ = latest > earliest
    exp_hi = np.exp(-(events.starts_s - latest) / lead)
    exp_lo = np.exp(-(events.starts_s - earliest) / lead)
    time_mass = np.where(open_, exp_hi - exp_lo, 0.0)
    weight = events.popularity * time_mass
    weight = weight * np.where(events.status == CANCELLED, 0.5, 1.0) * (events.status != DRAFT)
    if not weight.sum() > 0:
        raise ValueError("no event of this world can receive interactions (all drafts?)")

    cell = events.category.astype(np.int64) * N_CITIES + events.city
    order = np.argsort(cell, kind="stable")
    cum = np.cumsum(weight[order])
    bounds = np.searchsorted(cell[order], np.arange(N_CATEGORIES * N_CITIES + 1))
    cell_first, cell_last = bounds[:-1], np.maximum(bounds[1:] - 1, bounds[:-1])
    padded = np.concatenate([[0.0], cum])
    cell_before = padded[bounds[:-1]]
    cell_total = padded[bounds[1:]] - cell_before
    mass = cell_total.reshape(N_CATEGORIES, N_CITIES)
    decay = distance_decay()
    by_home = decay[:, None, :] * mass[None, :, :]  # (home, category, city)
    city_cum, city_before, city_total = _blocks(by_home.reshape(-1, N_CITIES))
    category_weight = by_home.sum(axis=2)
    user_category = users.taste * category_weight[users.home]
    user_category /= np.maximum(user_category.sum(axis=1, keepdims=True), 1e-300)

    rows, slots = np.nonzero(events.tags >= 0)
    pair_tag = events.tags[rows, slots].astype(np.int64)
    by_tag = np.argsort(pair_tag, kind="stable")
    pair_event, pair_tag = rows[by_tag], pair_tag[by_tag]
    n_tags = len(ALL_TAGS)
    tag_bounds = np.searchsorted(pair_tag, np.arange(n_tags + 1))
    pair_weight = decay[:, events.city[pair_event]] * weight[pair_event][None, :]  # (home, pair)
    tag_cum = np.cumsum(pair_weight.ravel())
    padded_tags = np.concatenate([[0.0], tag_cum])
    offsets = np.arange(N_CITIES)[:, None] * pair_event.size
    tag_before = padded_tags[offsets + tag_bounds[None, :-1]].ravel()
    tag_total = padded_tags[offsets + tag_bounds[None, 1:]].ravel() - tag_before
    return _Model(
        user_p=activity / activity.sum(),
        user_category_p=user_category,
        home=users.home,
        taste=users.taste,
        taste_max=users.taste.max(axis=1),
        favorite_tags=users.favorite_tags,
        category=events.category,
        tags=events.tags,
        starts=events.starts_s,
        lead=lead,
        earliest=earliest,
        exp_hi=exp_hi,
        exp_lo=exp_lo,
        weight=weight,
        status=events.status,
        capacity=events.capacity,
        free=events.price == 0,
        order=order,
        cum=cum,
        cell_before=cell_before,
        cell_total=cell_total,
        cell_first=cell_first,
        cell_last=cell_last,
        city_cum=city_cum,
        city_before=city_before,
        city_total=city_total,
        n_tags=n_tags,
        pair_event=pair_event,
        tag_cum=tag_cum,
        tag_before=tag_before,
        tag_total=tag_total,
    )


def _blocks(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``weights`` laid end to end as one cumulative array, with each row's start and
    total, so a draw inside any row is one ``searchsorted`` over a small array."""
    cum = np.cumsum(weights.ravel())
    padded = np.concatenate([[0.0], cum])
    width = weights.shape[1]
    starts = np.arange(weights.shape[0]) * width
    before = padded[starts]
    return cum, before, padded[starts + width] - before


def _journeys(model: _Model, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """``n`` (user, event, tag matches) draws, in random order.

    Users by activity and categories by taste are drawn as multinomial counts (no per-row
    search); a share of journeys starts from one of the user's favourite tags instead of a
    category, which is how tag affinity enters without rejection sampling.
    """
    users, events = [], []
    have = 0
    while have < n:
        want = n - have
        n_tag = int(rng.binomial(want, _TAG_SHARE))
        # Category path: user -> category (taste x offer near home) -> city -> event.
        per_user = rng.multinomial(want - n_tag, model.user_p)
        active = np.flatnonzero(per_user)
        per_cat = rng.multinomial(per_user[active], model.user_category_p[active]).ravel()
        u = np.repeat(np.repeat(active, N_CATEGORIES), per_cat)
        c = np.repeat(np.tile(np.arange(N_CATEGORIES), active.size), per_cat)
        block = model.home[u].astype(np.int64) * N_CATEGORIES + c
        x = model.city_before[block] + (1.0 - rng.random(u.size)) * model.city_total[block]
        city = np.minimum(np.searchsorted(model.city_cum, x), model.city_cum.size - 1) % N_CITIES
        cell = c * N_CITIES + city
        x = model.cell_before[cell] + (1.0 - rng.random(u.size)) * model.cell_total[cell]
        pos = np.clip(np.searchsorted(model.cum, x), model.cell_first[cell], model.cell_last[cell])
        e = model.order[pos]
        # Tag path: user -> one favourite tag -> event carrying it (popularity x time x distance).
        tu = np.repeat(np.arange(len(model.home)), rng.multinomial(n_tag, model.user_p))
        tag = model.favorite_tags[tu, rng.integers(0, 3, tu.size)].astype(np.int64)
        block = model.home[tu].astype(np.int64) * model.n_tags + tag
        x = model.tag_before[block] + (1.0 - rng.random(tu.size)) * model.tag_total[block]
        pos = np.minimum(np.searchsorted(model.tag_cum, x), model.tag_cum.size - 1)
        te = model.pair_event[pos % model.pair_event.size]
        ok = model.tag_total[block] > 0
        u = np.concatenate([u, tu[ok]])
        e = np.concatenate([e, te[ok]])
        keep = model.weight[e] > 0
        users.append(u[keep])
        events.append(e[keep])
        have += int(keep.sum())
    u, e = np.concatenate(users)[:n], np.concatenate(events)[:n]
    order = rng.permutation(u.size)
    u, e = u[order], e[order]
    hits = (model.favorite_tags[u][:, :, None] == model.tags[e][:, None, :]).any(axis=2).sum(axis=1)
    return u, e, hits


def _first_per_key(keys: np.ndarray, times: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mask keeping, among ``mask`` rows, only the earliest row of each key."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return mask.copy()
    ordered = idx[np.lexsort((times[idx], keys[idx]))]
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = keys[ordered[1:]] != keys[ordered[:-1]]
    out = np.zeros_like(mask)
    out[ordered[first]] = True
    return out


@dataclass
class _Ledger:
    """Registrations so far, across chunks: capacity left and who is already registered."""

    remaining: np.ndarray
    registered: np.ndarray  # sorted user * events + event keys


def _chunk(spec: GenerationSpec, model: _Model, ledger: _Ledger, index: int, rows: int) -> Chunk:
    """Exactly ``rows`` interactions: journeys, their funnel, then the registration rules."""
    rng = rng_for(spec, STREAM_INTERACTIONS, index)
    now = spec.now_s
    n_events = spec.events
    n_journeys = int(rows / 1.3) + 64
    while True:
        u, e, hits = _journeys(model, rng, n_journeys)
        n = len(u)
        # Time of the view: truncated exponential lead before the start.
        lo, hi = model.exp_lo[e], model.exp_hi[e]
        mass = hi - lo
        lead = -model.lead[e] * np.log(hi - rng.random(n) * mass)
        t = (model.starts[e] - np.ceil(lead)).astype(np.int64)
        t = np.clip(t, model.earliest[e], now - 1)

        q = model.taste[u, model.category[e]] / model.taste_max[u]
        coin = rng.random((6, n))
        click = coin[0] < 0.08 + 0.25 * q + 0.06 * hits
        dismiss = ~click & (coin[1] < 0.03 + 0.07 * (1 - q))
        favorite = click & (coin[2] < 0.15 + 0.2 * q)
        share = click & (coin[3] < 0.05)
        status = model.status[e]
        register = click & (coin[4] < 0.12 + 0.2 * q + 0.1 * model.free[e])
        register &= status != CANCELLED

        click_t = t + rng.integers(2, 120, n)
        dismiss_t = t + rng.integers(1, 60, n)
        favorite_t = click_t + rng.integers(5, 600, n)
        share_t = click_t + rng.integers(10, 900, n)
        register_t = click_t + rng.integers(30, 1800, n)
        attend_t = model.starts[e] + rng.integers(0, 1800, n)
        click &= click_t < now
        dismiss &= dismiss_t < now
        favorite &= click & (favorite_t < now)
        share &= click & (share_t < now)
        register &= click & (register_t < now) & (register_t < model.starts[e])

        attend = register & (attend_t < now) & (coin[5] < 0.85)
        # Cut the journeys to about ``rows`` rows first, so that the registration rules below
        # see exactly the journeys that will be written.
        counts = 1 + click + dismiss + favorite + share + register + attend
        n_keep = int(np.searchsorted(np.cumsum(counts), rows, side="right"))
        cut = np.arange(n) < n_keep
        for flags in (click, dismiss, favorite, share, register, attend):
            flags &= cut

        key = u.astype(np.int64) * n_events + e
        favorite = _first_per_key(key, favorite_t, favorite)
        register = _first_per_key(key, register_t, register)
        if ledger.registered.size:
            register &= ~np.isin(key, ledger.registered)
        # First come, first served: rank registrations per event by time, keep the capacity left.
        idx = np.flatnonzero(register)
        ordered = idx[np.lexsort((register_t[idx], e[idx]))]
        ev = e[ordered]
        group_start = np.concatenate([[True], ev[1:] != ev[:-1]]) if ev.size else ev.astype(bool)
        start_pos = np.maximum.accumulate(np.where(group_start, np.arange(ev.size), 0))
        rank = np.arange(ev.size) - start_pos
        register[ordered[rank >= ledger.remaining[ev]]] = False
        attend &= register

        written = n_keep + int(click.sum() + dismiss.sum() + favorite.sum() + share.sum())
        written += int(register.sum() + attend.sum())
        deficit = rows - written
        if n_keep + deficit <= n:
            break
        n_journeys = rows  # one row per journey at least: always enough
    # Journeys past the cut contribute a bare view each to land on exactly ``rows`` rows.
    views = np.arange(n) < n_keep + deficit

    kept = np.flatnonzero(register)
    np.subtract.at(ledger.remaining, e[kept], 1)
    ledger.registered = np.union1d(ledger.registered, key[kept])

    source = rng.choice(3, size=n, p=[0.48, 0.40, 0.12])
    page = rng.choice(len(_BROWSE_PAGE_P), size=n, p=_BROWSE_PAGE_P)
    recommended = source == RECOMMENDATION
    page[recommended] = _RECS_PAGE
    position = np.where(recommended, np.minimum(rng.geometric(0.25, n), MAX_POSITION), 0)
    # Model versions follow each other through the window; some clients omit the field.
    era = np.clip((t - spec.window_start_s) * len(MODEL_VERSIONS) // (spec.days * 86_400), 0, 2)
    model_version = np.where(recommended & (rng.random(n) < 0.8), era, -1)

    parts = [
        (views, VIEW, t),
        (click, CLICK, click_t),
        (favorite, FAVORITE, favorite_t),
        (share, SHARE, share_t),
        (register, REGISTER, register_t),
        (attend, ATTEND, attend_t),
        (dismiss, DISMISS, dismiss_t),
    ]
    j = np.concatenate([np.flatnonzero(mask) for mask, _, _ in parts])
    kind = np.concatenate([np.full(int(mask.sum()), code, np.int8) for mask, code, _ in parts])
    ts = np.concatenate([times[mask] for mask, _, times in parts])
    order = np.lexsort((kind, ts))
    j, kind, ts = j[order], kind[order], ts[order]

    row_page = page[j]
    row_position = position[j]
    row_source = source[j]
    row_model = model_version[j]
    on_event_page = (kind == FAVORITE) | (kind == SHARE) | (kind == REGISTER)
    row_page[on_event_page] = _EVENT_PAGE
    row_position[on_event_page] = 0
    attended = kind == ATTEND
    row_page[attended] = _CHECKIN_PAGE
    row_position[attended] = 0
    row_source[attended] = APP
    row_model[attended] = -1

    return Chunk(
        index=index,
        uuid_text=uuid_bytes(rng, len(j)),
        user=(u[j] + 1).astype(np.int64),
        event=(e[j] + 1).astype(np.int64),
        kind=kind,
        ts=ts,
        source=row_source.astype(np.int8),
        context=(row_page * (MAX_POSITION + 1) + row_position).astype(np.int16),
        model_version=row_model.astype(np.int8),
    )


def _gather(values: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(codes.astype(np.int32))


@dataclass(frozen=True)
class Chunk:
    """One chunk of interactions, sorted by time, as integer codes (cheap to keep and to turn
    into either a frame or JSON lines)."""

    index: int
    uuid_text: np.ndarray  # (rows, 36) ASCII bytes of the interaction ids
    user: np.ndarray
    event: np.ndarray
    kind: np.ndarray  # index into INTERACTION_TYPES
    ts: np.ndarray  # Unix seconds
    source: np.ndarray  # index into INTERACTION_SOURCES
    context: np.ndarray  # index into CONTEXTS
    model_version: np.ndarray  # index into MODEL_VERSIONS, -1 for none

    def to_frame(self) -> pl.DataFrame:
        """The chunk with the contract's columns and types."""
        version = _gather(MODEL_VERSIONS, np.maximum(self.model_version, 0))
        return pl.DataFrame(
            {
                "interaction_id": _fixed_width_strings(self.uuid_text),
                "user_id": self.user,
                "event_id": self.event,
                "type": _gather(INTERACTION_TYPES, self.kind),
                "timestamp": pl.from_epoch(pl.Series(self.ts), time_unit="s").dt.replace_time_zone(
                    "UTC"
                ),
                "source": _gather(INTERACTION_SOURCES, self.source),
                "context": _gather(CONTEXTS, self.context),
                "model_version": version.set(pl.Series(self.model_version < 0), None),
            }
        )

    def json_lines(self) -> pl.Series:
        """One JSON object per row, newline-terminated.

        Built as text from fixed fragments, so no value ever needs escaping: the id and the
        timestamp are fixed-width and laid out with numpy, the rest comes from small
        vocabularies. The id and the timestamp lead, the other keys follow in contract order.
        """
        n = len(self.ts)
        head = np.empty((n, _HEAD_WIDTH), np.uint8)
        head[:] = np.frombuffer(_HEAD_TEMPLATE, np.uint8)
        head[:, _ID_AT : _ID_AT + 36] = self.uuid_text
        head[:, _TS_AT : _TS_AT + 25] = _timestamp_bytes(self.ts)
        tail_code = (
            (self.kind.astype(np.int32) * len(INTERACTION_SOURCES) + self.source) * len(CONTEXTS)
            + self.context
        ) * (len(MODEL_VERSIONS) + 1) + (self.model_version + 1)
        return pl.select(
            pl.concat_str(
                pl.lit(_fixed_width_strings(head)),
                pl.lit(pl.Series(self.user).cast(pl.String)),
                pl.lit(',"event_id":'),
                pl.lit(pl.Series(self.event).cast(pl.String)),
                pl.lit(_tails().gather(tail_code)),
            )
        ).to_series()


_ID_AT = len('{"interaction_id":"')
_TS_AT = _ID_AT + 36 + len('","timestamp":"')
_HEAD_TEMPLATE = (
    b'{"interaction_id":"' + b"0" * 36 + b'","timestamp":"' + b"0" * 25 + b'","user_id":'
)
_HEAD_WIDTH = len(_HEAD_TEMPLATE)


@lru_cache(maxsize=1)
def _tails() -> pl.Series:
    """Everything after the event id, per (type, source, context, model version)."""
    return pl.Series(
        [
            f',"type":"{kind}","source":"{source}","context":{context}'
            + (f',"model_version":"{MODEL_VERSIONS[m - 1]}"' if m else "")
            + "}\n"
            for kind in INTERACTION_TYPES
            for source in INTERACTION_SOURCES
            for context in CONTEXTS
            for m in range(len(MODEL_VERSIONS) + 1)
        ],
        dtype=pl.String,
    )


def _timestamp_bytes(ts: np.ndarray) -> np.ndarray:
    """Unix seconds as ``YYYY-MM-DDTHH:MM:SS+00:00`` ASCII rows (ISO-8601, explicit offset)."""
    out = np.empty((len(ts), 25), np.uint8)
    out[:] = np.frombuffer(b"0000-00-00T00:00:00+00:00", np.uint8)
    if not len(ts):
        return out
    days = ts // 86_400
    first = int(days.min())
    span = np.arange(first, int(days.max()) + 1) * 86_400
    dates = "".join(str(d) for d in span.astype("datetime64[s]").astype("datetime64[D]"))
    out[:, :10] = np.frombuffer(dates.encode(), np.uint8).reshape(-1, 10)[days - first]
    seconds = ts - days * 86_400
    for at, value in ((11, seconds // 3600), (14, seconds // 60 % 60), (17, seconds % 60)):
        out[:, at] = 48 + value // 10
        out[:, at + 1] = 48 + value % 10
    return out


def _fixed_width_strings(rows: np.ndarray) -> pl.Series:
    """A (rows, width) ASCII byte matrix as a string column, built from one buffer."""
    n, width = rows.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64)
    strings = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows))
    )
    return pl.Series(pl.from_arrow(strings))


def uuid_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random version-4 UUIDs as (n, 36) ASCII rows, from ``rng`` (so they repeat with
    the seed; 122 random bits make a collision practically impossible)."""
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(raw.tobytes().hex().encode(), np.uint8).reshape(n, 32)
    out = np.empty((n, 36), np.uint8)
    out[:, [8, 13, 18, 23]] = ord("-")
    for start, end, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at : at + end - start] = digits[:, start:end]
    return out


def chunk_sizes(spec: GenerationSpec) -> list[int]:
    """Rows of each chunk: full chunks then the remainder (fixed by the spec, not the machine)."""
    full, rest = divmod(spec.interactions, spec.chunk_rows)
    return [spec.chunk_rows] * full + ([rest] if rest else [])


def iter_chunks(spec: GenerationSpec) -> Iterator[Chunk]:
    """The interactions in chunks, each sorted by time; chunks overlap in time."""
    if spec.interactions == 0:
        return
    model = _model(spec)
    ledger = _Ledger(
        remaining=np.asarray(model.capacity, dtype=np.int64).copy(),
        registered=np.empty(0, np.int64),
    )
    for index, rows in enumerate(chunk_sizes(spec)):
        yield _chunk(spec, model, ledger, index, rows)


def iter_interactions(spec: GenerationSpec) -> Iterator[pl.DataFrame]:
    """The interactions as frames, chunk by chunk (see :func:`iter_chunks`)."""
    for chunk in iter_chunks(spec):
        yield chunk.to_frame()


def make_interactions(spec: GenerationSpec) -> pl.DataFrame:
    """All interactions of the world in one frame, sorted by time (exactly ``spec.interactions``
    rows): the in-memory twin of the day-partitioned JSON Lines files."""
    chunks = list(iter_interactions(spec))
    if not chunks:
        return _empty_interactions()
    frame = pl.concat(chunks)
    return frame.sort("timestamp", maintain_order=True) if len(chunks) > 1 else frame


def _empty_interactions() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "interaction_id": pl.String,
            "user_id": pl.Int64,
            "event_id": pl.Int64,
            "type": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "source": pl.String,
            "context": pl.String,
            "model_version": pl.String,
        }
    )
