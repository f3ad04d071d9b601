"""Simple references printed beside every model: what a model must beat to be worth shipping.

Each ranks upcoming events by one obvious rule, untrained: random, the organiser's popularity,
the share of the user's past events at the candidate's organiser, TF-IDF similarity of title and
description to the user's past events, and nearness to where the user usually goes (median of
past event coordinates, else home). Ties break by the event's early popularity.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from models.base import Recommender
from models.event_ranker import EventRanker
from models.event_signals import SIGNALS


class SignalRanker(EventRanker):
    """Ranks candidates by one signal of :mod:`models.event_signals` alone, untrained."""

    def __init__(
        self, signal: str = "text", horizon_days: float = 90.0, now: datetime | None = None
    ) -> None:
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; known: {list(SIGNALS)}")
        super().__init__(horizon_days=horizon_days, signals=(signal,), now=now)
        self.signal = signal

    def _fixed_signal(self) -> str | None:
        return self.signal

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        # Without items every signal but popularity is empty and the reference would print
        # popularity's figures under its own name.
        if items is None:
            raise ValueError(f"the {self.signal!r} reference needs an items frame")
        super()._fit(interactions, items, users)


def _reference(name: str, signal: str) -> type[SignalRanker]:
    """A :class:`SignalRanker` subclass named ``name`` whose default signal is ``signal``
    (module-level names, so fitted references pickle like any model)."""

    class Reference(SignalRanker):
        def __init__(
            self, signal: str = signal, horizon_days: float = 90.0, now: datetime | None = None
        ) -> None:
            super().__init__(signal=signal, horizon_days=horizon_days, now=now)

    Reference.__name__ = Reference.__qualname__ = name
    Reference.__module__ = __name__
    return Reference


OrganizerPopularityReference = _reference("OrganizerPopularityReference", "organizer_popularity")
SameOrganizerReference = _reference("SameOrganizerReference", "organizer_share")
TfidfReference = _reference("TfidfReference", "text")
NearestVenueReference = _reference("NearestVenueReference", "proximity")


class RandomRecommender(Recommender):
    """Uniformly random order, the same for a (user, item) pair on every call: the floor."""

    uses_item_features = True

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        """Nothing to learn beyond the id universes."""

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        cols = np.arange(self.item_ids_.size) if item_pos is None else item_pos
        return _hash_scores(user_pos, cols, self.random_state)

    def _cold_user_scores(self, item_pos: np.ndarray | None) -> np.ndarray:
        cols = np.arange(self.item_ids_.size) if item_pos is None else item_pos
        return _hash_scores(np.array([-1]), cols, self.random_state)[0]


def _hash_scores(rows: np.ndarray, cols: np.ndarray, seed: int) -> np.ndarray:
    """Scores in [0, 1) from an integer hash of (row, column, seed): no state, any block size."""
    mixed = (rows.astype(np.uint64)[:, None] * np.uint64(0x9E3779B97F4A7C15)) ^ (
        cols.astype(np.uint64)[None, :] * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(seed)
    )
    mixed ^= mixed >> np.uint64(31)
    mixed *= np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(29)
    return ((mixed >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)).astype(np.float32)


# The references by the names the evaluation prints.
REFERENCES: dict[str, type[Recommender]] = {
    "random": RandomRecommender,
    "organizer_popularity": OrganizerPopularityReference,
    "same_organizer": SameOrganizerReference,
    "tfidf": TfidfReference,
    "nearest_venue": NearestVenueReference,
}
