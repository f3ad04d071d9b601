"""Time-decayed popularity: the baseline every personalised model has to beat."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from models.base import Recommender
from models.matrix import encode


class PopularityRecommender(Recommender):
    """Ranks items by interaction weight, each interaction decayed by its age.

    Events are short-lived, so last month's crowd-pleaser matters less than this week's:
    an interaction ``half_life_days`` old counts half. ``half_life_days=None`` disables decay.
    Learned: ``item_scores_`` (float32, one per item in ``item_ids_``).
    """

    def __init__(self, half_life_days: float | None = 30.0, now: datetime | None = None) -> None:
        self.half_life_days = half_life_days
        self.now = now

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        weights = interactions["weight"].to_numpy().astype(np.float64)
        if self.half_life_days and "timestamp" in interactions.columns and self.now_ is not None:
            age_days = _age_days(interactions["timestamp"], self.now_)
            weights = weights * np.power(0.5, np.clip(age_days, 0.0, None) / self.half_life_days)
        cols = encode(self.item_ids_, interactions["item_id"].to_numpy())
        scores = np.bincount(cols, weights=weights, minlength=self.item_ids_.size)
        self.item_scores_ = scores.astype(np.float32)

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        row = self.item_scores_ if item_pos is None else self.item_scores_[item_pos]
        return np.broadcast_to(row, (user_pos.size, row.size)).copy()

    def _cold_user_scores(self, item_pos: np.ndarray | None) -> np.ndarray:
        return self.item_scores_ if item_pos is None else self.item_scores_[item_pos]


def _age_days(timestamps: pl.Series, now: datetime) -> np.ndarray:
    """Age of each timestamp at ``now`` in days, vectorised."""
    seconds = (timestamps - now).dt.total_seconds(fractional=True).to_numpy()
    return -seconds.astype(np.float64) / 86400.0
