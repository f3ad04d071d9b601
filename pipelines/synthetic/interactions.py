"""Interactions drawn from the world's organisers, series, venues and the users' habits.

Each *journey* is one user discovering one event: a view, and then maybe a click, a favourite,
a share, a registration, a dismissal, and for past events attendance. A journey starts one of
three ways:

- *regular*: the user goes back to a series they keep attending ("Python Meetup #42" after #41),
  the strongest single pull, and how a third of future registrations come about;
- *member*: the user looks at what one of their organisers has on, and picks by what the event
  is about (its topic against the user's), where it is (distance from home) and when (the
  user's usual weekday and hour);
- *discovery*: the user comes across an organiser near home (by its size) and picks among its
  events the same way; this is where popular events gather strangers.

Within an organiser, candidates are proposed by popularity and time and one is kept by the
user's affinity (sampling-importance-resampling over a few proposals), so no user x event matrix
is ever built. Times follow an exponential lead before each event's start, truncated to the
history window, the event's announcement and ``now``: events draw interactions in the days
before they start, and upcoming events only once announced, so most of the next months'
events are still cold at ``now``.

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
from pipelines.synthetic.world import (
    CANCELLED,
    DRAFT,
    LEAD_DAYS,
    N_CATEGORIES,
    N_CITIES,
    N_TOPICS,
    STREAM_INTERACTIONS,
    Blocks,
    distance_decay,
    event_affinity,
    event_state,
    member_state,
    rng_for,
    user_state,
    world_state,
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

REGULAR, MEMBER, TOPIC, DISCOVERY = range(4)
# Journey shares by what the user has: (regular, member, topic, discovery).
_PATH_P = {
    "regular": (0.12, 0.4, 0.32, 0.16),
    "member": (0.0, 0.5, 0.32, 0.18),
    "none": (0.0, 0.0, 0.6, 0.4),
}
# Extra chance to click and to register, by path: people book what they came back for.
_PATH_BOOST = np.array([0.25, 0.1, 0.05, 0.0])
# How sharply users pick the best-fitting of the proposals (1: as the affinity says).
_CHOICE_SHARPNESS = 1.2
_PROPOSALS = 8
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Segments:
    """Items grouped by a key (events by series, by organiser), with cumulative weights, so a
    weighted draw of an item of any key is one ``searchsorted``."""

    order: np.ndarray  # items sorted by key
    cum: np.ndarray
    before: np.ndarray
    total: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray, weight: np.ndarray, n_keys: int) -> Segments:
        """Segments of ``weight`` by ``keys`` (integers in ``[0, n_keys)``)."""
        order = np.argsort(keys, kind="stable")
        cum = np.cumsum(weight[order])
        bounds = np.searchsorted(keys[order], np.arange(n_keys + 1))
        padded = np.concatenate([[0.0], cum])
        before = padded[bounds[:-1]]
        return cls(
            order=order,
            cum=cum,
            before=before,
            total=padded[bounds[1:]] - before,
            first=bounds[:-1],
            last=np.maximum(bounds[1:] - 1, bounds[:-1]),
        )

    def draw(self, rng: np.random.Generator, keys: np.ndarray) -> np.ndarray:
        """One item per key, by weight within the key (check ``total[keys] > 0`` first)."""
        x = self.before[keys] + (1.0 - rng.random(keys.shape)) * self.total[keys]
        pos = np.clip(np.searchsorted(self.cum, x), self.first[keys], self.last[keys])
        return self.order[pos]


@dataclass(frozen=True)
class _Model:
    """Everything the per-chunk sampling needs, computed once per spec."""

    user_p: np.ndarray
    path_cum: np.ndarray  # (user, 3) cumulative path probabilities
    organizers: np.ndarray  # (user, slots) memberships, -1 padded
    regular: np.ndarray  # (user, slots) regular series, -1 padded
    home: np.ndarray
    series: np.ndarray  # per event
    organizer: np.ndarray
    starts: np.ndarray
    lead: np.ndarray
    earliest: np.ndarray  # first second an event can be seen (announced, inside the window)
    exp_hi: np.ndarray  # exp(-min lead / mean lead): mass up to the latest possible time
    exp_lo: np.ndarray  # exp(-max lead / mean lead): mass up to the earliest possible time
    weight: np.ndarray
    status: np.ndarray
    capacity: np.ndarray
    free: np.ndarray
    by_series: Segments
    by_organizer: Segments
    by_topic: Segments  # keyed by topic code * cities + city: what a topic offers in a city
    topics: np.ndarray  # (user, 2) favourite topic codes
    nearby: Blocks  # (home city, organiser): where discovery journeys go
    by_taste: Blocks  # (category * cities + home city, organiser): the same, in one category
    taste_cum: np.ndarray  # (user, category) cumulative taste


def _model(spec: GenerationSpec) -> _Model:
    users, events, world = user_state(spec), event_state(spec), world_state(spec)
    members = member_state(spec)
    now, window = spec.now_s, spec.window_start_s
    activity = users.activity if users.activity.sum() > 0 else np.ones(spec.users)

    lead = LEAD_DAYS[events.category] * _SECONDS_PER_DAY
    earliest = np.maximum(window, events.visible_s)
    latest = np.minimum(now, events.starts_s)
    open_ = latest > earliest
    exp_hi = np.exp(-(events.starts_s - latest) / lead)
    exp_lo = np.exp(-(events.starts_s - earliest) / lead)
    time_mass = np.where(open_, exp_hi - exp_lo, 0.0)
    weight = events.popularity * time_mass
    weight = weight * np.where(events.status == CANCELLED, 0.5, 1.0) * (events.status != DRAFT)
    if not weight.sum() > 0:
        raise ValueError("no event of this world can receive interactions (all drafts?)")

    by_series = Segments.of(events.series, weight, world.series)
    by_organizer = Segments.of(events.organizer, weight, world.organizers)
    topic_key = (events.category * N_TOPICS + events.topic) * N_CITIES + events.city
    by_topic = Segments.of(topic_key, weight, N_CATEGORIES * N_TOPICS * N_CITIES)
    org_mass = by_organizer.total
    nearby = distance_decay()[:, world.org_city] * org_mass[None, :]  # (home city, organiser)
    same = world.org_category[None, :] == np.arange(N_CATEGORIES)[:, None]
    by_taste = Blocks.of((same[:, None, :] * nearby[None, :, :]).reshape(-1, world.organizers))

    usable = np.where(members.series >= 0, by_series.total[np.maximum(members.series, 0)], 0) > 0
    regular = np.where(usable, members.series, -1)
    has_member = (members.organizers >= 0).any(axis=1)
    has_regular = (regular >= 0).any(axis=1)
    path_p = np.where(
        has_regular[:, None],
        np.array(_PATH_P["regular"]),
        np.where(has_member[:, None], np.array(_PATH_P["member"]), np.array(_PATH_P["none"])),
    )
    return _Model(
        user_p=activity / activity.sum(),
        path_cum=np.cumsum(path_p, axis=1),
        organizers=members.organizers,
        regular=regular,
        home=users.home,
        series=events.series,
        organizer=events.organizer,
        starts=events.starts_s,
        lead=lead,
        earliest=earliest,
        exp_hi=exp_hi,
        exp_lo=exp_lo,
        weight=weight,
        status=events.status,
        capacity=events.capacity,
        free=events.price == 0,
        by_series=by_series,
        by_organizer=by_organizer,
        by_topic=by_topic,
        topics=users.topics,
        nearby=Blocks.of(nearby),
        by_taste=by_taste,
        taste_cum=np.cumsum(users.taste, axis=1) / users.taste.sum(axis=1, keepdims=True),
    )


def _pick_slot(rng: np.random.Generator, slots: np.ndarray) -> np.ndarray:
    """One valid (>= 0) entry per row of ``slots``, uniformly (rows must have one)."""
    key = rng.random(slots.shape) * (slots >= 0)
    return slots[np.arange(slots.shape[0]), key.argmax(axis=1)]


def _journeys(
    spec: GenerationSpec, model: _Model, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` (user, event, path, affinity) draws, in random order."""
    users, world = user_state(spec), world_state(spec)
    out_u, out_e, out_path = [], [], []
    have = 0
    while have < n:
        want = n - have
        u = np.repeat(np.arange(model.user_p.size), rng.multinomial(want, model.user_p))
        path = (rng.random(u.size)[:, None] > model.path_cum[u]).sum(axis=1)
        path = np.minimum(path, DISCOVERY)
        e = np.full(u.size, -1, dtype=np.int64)

        regular = np.flatnonzero(path == REGULAR)
        series = _pick_slot(rng, model.regular[u[regular]])
        e[regular] = model.by_series.draw(rng, series)

        member = np.flatnonzero(path == MEMBER)
        org = np.empty(u.size, dtype=np.int64)
        org[member] = _pick_slot(rng, model.organizers[u[member]])
        # Discovery: a category the user likes, then an organiser of it near home by activity.
        discovery = np.flatnonzero(path == DISCOVERY)
        home = model.home[u[discovery]].astype(np.int64)
        draw = rng.random(discovery.size)[:, None]
        category = np.minimum((draw > model.taste_cum[u[discovery]]).sum(axis=1), N_CATEGORIES - 1)
        block = category * N_CITIES + home
        org[discovery] = np.where(
            model.by_taste.total[block] > 0,
            model.by_taste.draw(rng, block),
            model.nearby.draw(rng, home),
        )
        # Topic: one of the user's topics, whoever runs it, in the home city.
        topic = np.flatnonzero(path == TOPIC)
        code = model.topics[u[topic], rng.integers(0, 2, topic.size)]
        key = code.astype(np.int64) * N_CITIES + model.home[u[topic]]

        # Proposals by popularity and time, one of them kept by the user's affinity.
        segments = (
            (model.by_organizer, np.concatenate([member, discovery])),
            (model.by_topic, topic),
        )
        for source, rows in segments:
            keys = org[rows] if source is model.by_organizer else key
            ok = source.total[keys] > 0
            rows, keys = rows[ok], keys[ok]
            proposals = source.draw(rng, np.repeat(keys[:, None], _PROPOSALS, axis=1))
            uu = np.repeat(u[rows][:, None], _PROPOSALS, axis=1)
            score = _CHOICE_SHARPNESS * event_affinity(users, world, uu, model.series[proposals])
            chosen = (score + rng.gumbel(0, 1.0, score.shape)).argmax(axis=1)
            e[rows] = proposals[np.arange(rows.size), chosen]

        keep = e >= 0
        keep[keep] = model.weight[e[keep]] > 0
        out_u.append(u[keep])
        out_e.append(e[keep])
        out_path.append(path[keep])
        have += int(keep.sum())
    u, e, path = (np.concatenate(x)[:n] for x in (out_u, out_e, out_path))
    order = rng.permutation(u.size)
    u, e, path = u[order], e[order], path[order]
    return u, e, path, event_affinity(users, world, u, model.series[e])


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
        u, e, path, affinity = _journeys(spec, model, rng, n_journeys)
        n = len(u)
        # Time of the view: truncated exponential lead before the start.
        lo, hi = model.exp_lo[e], model.exp_hi[e]
        mass = hi - lo
        lead = -model.lead[e] * np.log(hi - rng.random(n) * mass)
        t = (model.starts[e] - np.ceil(lead)).astype(np.int64)
        t = np.clip(t, model.earliest[e], now - 1)

        # How well the event fits the user, in [0, 1], from the same affinity that chose it.
        q = np.clip((affinity + 2.0) / 6.0, 0.0, 1.0)
        boost = _PATH_BOOST[path]
        coin = rng.random((6, n))
        click = coin[0] < 0.08 + 0.25 * q + boost
        dismiss = ~click & (coin[1] < 0.03 + 0.07 * (1 - q))
        favorite = click & (coin[2] < 0.15 + 0.2 * q)
        share = click & (coin[3] < 0.05)
        status = model.status[e]
        register = click & (coin[4] < 0.08 + 0.2 * q + 1.2 * boost + 0.1 * model.free[e])
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
                "interaction_id": fixed_width_strings(self.uuid_text),
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
                pl.lit(fixed_width_strings(head)),
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


def fixed_width_strings(rows: np.ndarray) -> pl.Series:
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
