"""Hybrid recommender for events: collaborative + content + popularity, aware of time and place.

Events are mostly new: the ones worth recommending start in the future and have few or no
interactions yet. Collaborative scores rank the warm ones, content scores reach the cold ones,
recent popularity breaks ties, events that already started are never shown and far-away events
are pushed down for users whose home is known.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from models.als import ALSRecommender
from models.base import ModelTooLargeError, Recommender, fit_shared
from models.content import ContentRecommender
from models.ease import EASERecommender
from models.geo import distance_penalty, unit_vectors
from models.item_knn import ItemKNNRecommender
from models.matrix import encode, to_utc
from models.popularity import PopularityRecommender

COLLABORATIVE = {
    "ease": EASERecommender,
    "item_knn": ItemKNNRecommender,
    "als": ALSRecommender,
}


class HybridRecommender(Recommender):
    """Weighted blend of per-user normalised component scores, minus a distance penalty.

    ``score = cf_weight·cf + content_weight·content + popularity_weight·pop
    − distance_weight·(1 − exp(−km / distance_scale_km))``; items whose ``starts_at`` is not after
    ``now`` (default: the latest interaction) are excluded. Each component is divided by its
    per-user maximum so the weights mean the same for heavy and light users. If the chosen
    collaborative model is too large for the data (EASE), item-kNN replaces it.
    Learned: ``cf_``, ``content_`` (None without items), ``item_popularity_``, ``expired_``,
    item and user coordinates.
    """

    uses_item_features = True

    def __init__(
        self,
        cf_model: str = "ease",
        cf_params: dict[str, Any] | None = None,
        content_params: dict[str, Any] | None = None,
        cf_weight: float = 1.0,
        content_weight: float = 0.5,
        popularity_weight: float = 0.2,
        distance_weight: float = 0.3,
        distance_scale_km: float = 30.0,
        half_life_days: float | None = 14.0,
        now: datetime | None = None,
    ) -> None:
        self.cf_model = cf_model
        self.cf_params = cf_params
        self.content_params = content_params
        self.cf_weight = cf_weight
        self.content_weight = content_weight
        self.popularity_weight = popularity_weight
        self.distance_weight = distance_weight
        self.distance_scale_km = distance_scale_km
        self.half_life_days = half_life_days
        self.now = now

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        if self.cf_model not in COLLABORATIVE:
            raise ValueError(f"cf_model must be one of {sorted(COLLABORATIVE)}")
        self.cf_ = self._fit_collaborative(interactions)
        self.content_ = None
        if items is not None and items.height and self.content_weight > 0:
            self.content_ = fit_shared(
                ContentRecommender(**(self.content_params or {})), interactions, items, users
            )
        popularity = PopularityRecommender(self.half_life_days, now=self.now_).fit(interactions)
        scores = np.zeros(self.item_ids_.size, dtype=np.float32)
        pos = encode(self.item_ids_, popularity.item_ids_)
        scores[pos[pos >= 0]] = popularity.item_scores_[pos >= 0]
        top = scores.max() if scores.size else 0.0
        self.item_popularity_ = scores / top if top > 0 else scores
        self.expired_ = self._expired(items)
        self.item_lat_, self.item_lng_ = self._coordinates(items, "item_id", "lat", "lng")
        self.user_lat_, self.user_lng_ = self._coordinates(users, "user_id", "home_lat", "home_lng")
        self.item_xyz_ = unit_vectors(self.item_lat_, self.item_lng_)
        self.home_xyz_, self.user_home_ = _home_groups(self.user_lat_, self.user_lng_)

    def _fit_collaborative(self, interactions: pl.DataFrame) -> Recommender:
        params = dict(self.cf_params or {})
        try:
            return fit_shared(COLLABORATIVE[self.cf_model](**params), interactions)
        except ModelTooLargeError:
            return fit_shared(ItemKNNRecommender(), interactions)

    def _expired(self, items: pl.DataFrame | None) -> np.ndarray:
        expired = np.zeros(self.item_ids_.size, dtype=bool)
        if items is None or "starts_at" not in items.columns or self.now_ is None:
            return expired
        frame = items.select(
            pl.col("item_id").cast(pl.Int64), to_utc(items["starts_at"]).alias("starts_at")
        ).drop_nulls()
        pos = encode(self.item_ids_, frame["item_id"].to_numpy())
        started = (frame["starts_at"] <= self.now_).to_numpy()
        expired[pos[(pos >= 0) & started]] = True
        return expired

    def _coordinates(
        self, frame: pl.DataFrame | None, key: str, lat: str, lng: str
    ) -> tuple[np.ndarray, np.ndarray]:
        universe = self.item_ids_ if key == "item_id" else self.user_ids_
        lats = np.full(universe.size, np.nan)
        lngs = np.full(universe.size, np.nan)
        if frame is None or lat not in frame.columns or lng not in frame.columns:
            return lats, lngs
        coords = frame.select(
            pl.col(key).cast(pl.Int64), pl.col(lat).cast(pl.Float64), pl.col(lng).cast(pl.Float64)
        )
        pos = encode(universe, coords[key].to_numpy())
        keep = pos >= 0
        lats[pos[keep]] = coords[lat].to_numpy()[keep]
        lngs[pos[keep]] = coords[lng].to_numpy()[keep]
        return lats, lngs

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        # Every step works in place on one float32 block: the blend is memory-bound, and each
        # temporary array of the block's size used to cost as much as the arithmetic.
        cols = np.arange(self.item_ids_.size) if item_pos is None else item_pos
        users = self.user_ids_[user_pos]
        items = self._columns("ids", item_pos, lambda _: self.item_ids_[cols])
        scores = _per_row_max_scaled(self.cf_.score_matrix(users, items), self.cf_weight)
        if self.content_ is not None:
            content = _per_row_max_scaled(
                self.content_.score_matrix(users, items), self.content_weight
            )
            scores += content
            del content
        popularity = self._columns(
            "popularity", item_pos, lambda _: self.popularity_weight * self.item_popularity_[cols]
        )
        scores += popularity[None, :]
        if self.distance_weight > 0:
            self._subtract_distance(scores, user_pos, item_pos, cols)
        expired = self._columns("expired", item_pos, lambda _: np.flatnonzero(self.expired_[cols]))
        scores[:, expired] = -np.inf
        return scores

    def _subtract_distance(
        self,
        scores: np.ndarray,
        user_pos: np.ndarray,
        item_pos: np.ndarray | None,
        cols: np.ndarray,
    ) -> None:
        """Subtract the distance penalty, computed once per distinct home in the block.

        Homes repeat (a city, a neighbourhood), so penalty rows are computed per distinct home
        and gathered, which is much cheaper than one distance per user × event; users without a
        home are not penalised.
        """
        if "home_xyz_" not in self.__dict__:  # a model pickled before these were learned
            self.item_xyz_ = unit_vectors(self.item_lat_, self.item_lng_)
            self.home_xyz_, self.user_home_ = _home_groups(self.user_lat_, self.user_lng_)
        homes = self.user_home_[user_pos]
        known = np.flatnonzero(homes >= 0)
        if known.size == 0:
            return
        distinct, inverse = np.unique(homes[known], return_inverse=True)
        item_xyz = self._columns("xyz", item_pos, lambda _: self.item_xyz_[cols])
        penalty = distance_penalty(self.home_xyz_[distinct], item_xyz, self.distance_scale_km)
        penalty *= np.float32(self.distance_weight)
        if known.size == user_pos.size:
            scores -= penalty[inverse]
        else:
            scores[known] -= penalty[inverse]

    def _cold_user_scores(self, item_pos: np.ndarray | None) -> np.ndarray:
        cols = np.arange(self.item_ids_.size) if item_pos is None else item_pos
        row = self.item_popularity_[cols].copy()
        row[self.expired_[cols]] = -np.inf
        return row

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        cols = np.arange(self.item_ids_.size) if cand_pos is None else cand_pos
        items, cands = self.item_ids_[item_pos], self.item_ids_[cols]
        sims = np.zeros((items.size, cands.size), dtype=np.float32)
        if self.content_ is not None:
            sims += self.content_weight * _per_row_max_scaled(
                _component_similarity(self.content_, items, cands)
            )
        try:
            cf = _component_similarity(self.cf_, items, cands)
        except NotImplementedError:
            cf = np.zeros_like(sims)
        sims += self.cf_weight * _per_row_max_scaled(cf)
        sims[:, self.expired_[cols]] = -np.inf
        return sims


def _home_groups(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct homes on the unit sphere and, per user, the index of theirs (-1: unknown)."""
    groups = np.full(lat.size, -1, dtype=np.int64)
    known = np.isfinite(lat) & np.isfinite(lng)
    if not known.any():
        return np.empty((0, 3)), groups
    pairs = np.stack([lat[known], lng[known]], axis=1)
    distinct, inverse = np.unique(pairs, axis=0, return_inverse=True)
    groups[known] = inverse.ravel()
    return unit_vectors(distinct[:, 0], distinct[:, 1]), groups


def _per_row_max_scaled(scores: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """``weight`` × each row divided by its largest positive value, so components blend on one
    scale. Works in place on float32 input (the blocks are the scorer's own temporaries)."""
    scores = np.asarray(scores, dtype=np.float32)
    top = scores.max(axis=1, keepdims=True) if scores.shape[1] else np.ones((scores.shape[0], 1))
    scale = (np.float32(weight) / np.where(top > 0, top, 1.0)).astype(np.float32)
    scores *= scale
    return scores


def _component_similarity(model: Recommender, items: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """A component's item similarities on our ids; 0 where it does not know an item."""
    rows = encode(model.item_ids_, items)
    cols = encode(model.item_ids_, cands)
    out = np.zeros((items.size, cands.size), dtype=np.float32)
    known_rows, known_cols = np.flatnonzero(rows >= 0), np.flatnonzero(cols >= 0)
    if known_rows.size and known_cols.size:
        sims = model._item_similarity(rows[known_rows], cols[known_cols])
        out[np.ix_(known_rows, known_cols)] = np.nan_to_num(sims, neginf=0.0)
    return out
