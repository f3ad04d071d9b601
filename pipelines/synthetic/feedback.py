"""What the recommendation widget logs: the lists each model version showed, and what came of them.

Every journey that began on the recommendations page began with a list: it is logged as one
impression per slot, the journey's event at the position the user found it and the other slots
filled with events the list could have held (published, announced and starting within
``FILLER_HORIZON_DAYS``). The journey's clicks, registrations and dismissals are logged against
the same model version. Positions are zero-based, as the API takes them (the clickstream's
``context.position`` counts from one). Lists nobody acted on are logged too, more of them for
the weaker versions (``IDLE_LISTS_PER_ENGAGED``), so the versions' click-through rates differ
the way a better model's would and the model-version comparison has something to show.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from core.contracts import FEEDBACK_ACTIONS
from pipelines.synthetic.interactions import (
    CLICK,
    DISMISS,
    MAX_POSITION,
    MODEL_VERSIONS,
    RECOMMENDATION,
    REGISTER,
    VIEW,
    Chunk,
    fixed_width_strings,
    uuid_bytes,
)
from pipelines.synthetic.spec import GenerationSpec
from pipelines.synthetic.world import COMPLETED, PUBLISHED, STREAM_FEEDBACK, EventState, rng_for

LIST_LENGTH = 8
FILLER_HORIZON_DAYS = 45
# Lists shown without any action, per list that led to a journey, by model version.
IDLE_LISTS_PER_ENGAGED = (1.5, 0.8, 0.4)
_FILLER_TRIES = 4
_ACTIONS = {CLICK: "click", REGISTER: "register", DISMISS: "dismiss"}
IMPRESSION = FEEDBACK_ACTIONS.index("impression")

assert len(IDLE_LISTS_PER_ENGAGED) == len(MODEL_VERSIONS)
# Interaction type code -> feedback action code (only the types of ``_ACTIONS`` are looked up).
_ACTION_CODES = np.zeros(max(_ACTIONS) + 1, dtype=np.int8)
for _kind, _action in _ACTIONS.items():
    _ACTION_CODES[_kind] = FEEDBACK_ACTIONS.index(_action)


def _fillers(rng: np.random.Generator, events: EventState, at: np.ndarray) -> np.ndarray:
    """For each time in ``at``, an event index a list could have shown then, or -1 if none was
    found (the slot is left out)."""
    pool = np.flatnonzero((events.status == PUBLISHED) | (events.status == COMPLETED))
    starts = events.starts_s[pool]
    lo = np.searchsorted(starts, at, side="right")
    hi = np.searchsorted(starts, at + FILLER_HORIZON_DAYS * 86_400, side="right")
    chosen = np.full(at.size, -1, dtype=np.int64)
    for _ in range(_FILLER_TRIES):
        open_slot = (chosen < 0) & (hi > lo)
        pick = pool[
            np.minimum(lo + (rng.random(at.size) * (hi - lo)).astype(np.int64), pool.size - 1)
        ]
        fits = open_slot & (events.visible_s[pick] <= at)
        chosen[fits] = pick[fits]
    return chosen


def _lists(
    rng: np.random.Generator,
    events: EventState,
    user: np.ndarray,
    ts: np.ndarray,
    version: np.ndarray,
    shown_event: np.ndarray,
    shown_at: np.ndarray,
) -> dict[str, np.ndarray]:
    """Impressions of lists (one per entry): ``shown_event`` (an index, -1 for none) sits at
    ``shown_at`` and filler events take every other slot of a list of at least ``LIST_LENGTH``."""
    length = np.maximum(LIST_LENGTH, shown_at)
    owner = np.repeat(np.arange(user.size), length)
    starts = np.concatenate([[0], np.cumsum(length)[:-1]])
    slot = np.arange(owner.size) - starts[owner] + 1
    event = np.where(slot == shown_at[owner], shown_event[owner], -1)
    filler = event < 0
    event[filler] = _fillers(rng, events, ts[owner[filler]])
    kept = event >= 0
    return {
        "user": user[owner][kept],
        "event": event[kept] + 1,
        "ts": ts[owner][kept],
        "version": version[owner][kept],
        "action": np.full(int(kept.sum()), IMPRESSION, dtype=np.int8),
        "position": slot[kept] - 1,
    }


def chunk_feedback(spec: GenerationSpec, events: EventState, chunk: Chunk) -> pl.DataFrame:
    """The widget's log for one chunk of interactions, sorted by time, in the contract's columns."""
    rng = rng_for(spec, STREAM_FEEDBACK, chunk.index)
    recommended = (chunk.source == RECOMMENDATION) & (chunk.model_version >= 0)
    position = (chunk.context % (MAX_POSITION + 1)).astype(np.int64)
    engaged = np.flatnonzero(recommended & (chunk.kind == VIEW))
    parts = [
        _lists(
            rng,
            events,
            chunk.user[engaged],
            chunk.ts[engaged],
            chunk.model_version[engaged],
            chunk.event[engaged] - 1,
            np.maximum(position[engaged], 1),
        )
    ]
    idle_parts = []
    for version, ratio in enumerate(IDLE_LISTS_PER_ENGAGED):
        of_version = engaged[chunk.model_version[engaged] == version]
        n = rng.poisson(ratio * of_version.size) if of_version.size else 0
        if n:
            like = rng.choice(of_version, n)
            idle_parts.append((chunk.user[like], chunk.ts[like], np.full(n, version, np.int8)))
    if idle_parts:
        user, ts, version = (np.concatenate(column) for column in zip(*idle_parts, strict=True))
        # Shown at another visit than the engaged list they copy their user from.
        ts = np.clip(
            ts + rng.integers(-86_400, 86_400, ts.size), spec.window_start_s, spec.now_s - 1
        )
        none = np.full(ts.size, -1, dtype=np.int64)
        parts.append(_lists(rng, events, user, ts, version, none, np.zeros(ts.size, np.int64)))
    acted = np.flatnonzero(recommended & np.isin(chunk.kind, list(_ACTIONS)))
    acted_position = position[acted]
    parts.append(
        {
            "user": chunk.user[acted],
            "event": chunk.event[acted],
            "ts": chunk.ts[acted],
            "version": chunk.model_version[acted],
            "action": _ACTION_CODES[chunk.kind[acted]],
            "position": np.where(acted_position > 0, acted_position - 1, -1),
        }
    )
    merged = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    order = np.argsort(merged["ts"], kind="stable")
    merged = {name: values[order] for name, values in merged.items()}
    n = merged["ts"].size
    return pl.DataFrame(
        {
            "feedback_id": fixed_width_strings(uuid_bytes(rng, n)),
            "user_id": merged["user"].astype(np.int64),
            "event_id": merged["event"].astype(np.int64),
            "model_version": pl.Series(list(MODEL_VERSIONS)).gather(
                merged["version"].astype(np.int32)
            ),
            "action": pl.Series(list(FEEDBACK_ACTIONS)).gather(merged["action"].astype(np.int32)),
            "position": pl.Series(merged["position"].astype(np.int64)).replace(-1, None),
            "occurred_at": pl.from_epoch(
                pl.Series(merged["ts"]), time_unit="s"
            ).dt.replace_time_zone("UTC"),
        }
    )
