"""Content-based recommender: users are matched to items through what the items are about."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from models.base import Recommender
from models.features import ItemFeatureSpace, fit_feature_space, user_attribute
from models.matrix import encode, interaction_matrix, place_rows, row_normalize
from models.topk import block_rows

# Largest dense copy (float32 cells) of the candidate items' features kept for scoring: 128 MB.
_DENSE_ITEM_CELLS = 32 * 1024 * 1024


class ContentRecommender(Recommender):
    """Cosine between a user profile and item feature vectors.

    Items are TF-IDF vectors of title, description and tags, plus one-hot category, price band
    and city blocks (each scaled by its weight). A user's profile is the weighted mean of the
    vectors of the items they interacted with plus their declared ``interests``, so new items and
    users with interests only can be served. Needs an ``items`` frame.
    Learned: ``feature_space_``, ``item_features_`` (items × features CSR), ``user_profiles_``.
    """

    uses_item_features = True
    shares_fits = True

    def __init__(
        self,
        max_features: int = 20_000,
        min_df: int = 1,
        text_weight: float = 1.0,
        category_weight: float = 1.0,
        price_weight: float = 0.3,
        location_weight: float = 0.5,
        interests_weight: float = 0.5,
        weighting: str = "log",
    ) -> None:
        self.max_features = max_features
        self.min_df = min_df
        self.text_weight = text_weight
        self.category_weight = category_weight
        self.price_weight = price_weight
        self.location_weight = location_weight
        self.interests_weight = interests_weight
        self.weighting = weighting

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        if items is None or items.height == 0:
            raise ValueError("the content model needs an items frame (title, category, tags, ...)")
        catalogue = items.with_columns(pl.col("item_id").cast(pl.Int64)).unique(
            "item_id", keep="first", maintain_order=True
        )
        self.feature_space_: ItemFeatureSpace = fit_feature_space(
            catalogue,
            max_features=self.max_features,
            min_df=self.min_df,
            text_weight=self.text_weight,
            category_weight=self.category_weight,
            price_weight=self.price_weight,
            location_weight=self.location_weight,
        )
        features = self.feature_space_.encode_items(catalogue)
        rows = encode(self.item_ids_, catalogue["item_id"].to_numpy())
        self.item_features_ = place_rows(features, rows, self.item_ids_.size)
        self.user_profiles_ = self._profiles(interactions, users)

    def _profiles(self, interactions: pl.DataFrame, users: pl.DataFrame | None) -> sp.csr_matrix:
        X = interaction_matrix(interactions, self.user_ids_, self.item_ids_, self.weighting)
        totals = np.asarray(X.sum(axis=1)).ravel()
        inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        profiles = sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ X @ self.item_features_)
        profiles = row_normalize(profiles)
        pos, interests = user_attribute(users, self.user_ids_, "interests")
        if pos.size and self.interests_weight > 0:
            declared = self.feature_space_.encode_interests(interests)
            profiles = profiles + self.interests_weight * place_rows(
                declared, pos, self.user_ids_.size
            )
        return row_normalize(sp.csr_matrix(profiles, dtype=np.float32))

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        n_features = self.item_features_.shape[1]
        n_cols = self.item_ids_.size if item_pos is None else item_pos.size
        if n_features * n_cols <= _DENSE_ITEM_CELLS:
            # A small feature space (categories, cities, a modest vocabulary): one BLAS product
            # of dense profiles by the dense candidate features beats any sparse product and
            # writes the users × items block in its final layout.
            dense_t = self._columns(
                "features_dense_t",
                item_pos,
                lambda pos: np.ascontiguousarray(
                    (self.item_features_ if pos is None else self.item_features_[pos]).T.toarray()
                ),
            )
            return self.user_profiles_[user_pos].toarray() @ dense_t
        # sparse items × dense profiles is far faster than a sparse × sparse product whose
        # result is dense anyway; profiles are densified a bounded chunk at a time.
        items = self._columns(
            "features",
            item_pos,
            lambda pos: self.item_features_ if pos is None else self.item_features_[pos],
        )
        out = np.empty((user_pos.size, items.shape[0]), dtype=np.float32)
        step = block_rows(max(1, items.shape[1]))
        for start in range(0, user_pos.size, step):
            profiles = self.user_profiles_[user_pos[start : start + step]].toarray()
            out[start : start + step] = (items @ profiles.T).T
        return out

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        items = self.item_features_ if cand_pos is None else self.item_features_[cand_pos]
        return (self.item_features_[item_pos] @ items.T).toarray().astype(np.float32)
