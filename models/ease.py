"""EASE: a closed-form linear item-item model (Steck, 2019), strong on dense catalogues."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.linalg import lapack

from models.base import ModelTooLargeError, Recommender
from models.matrix import interaction_matrix


class EASERecommender(Recommender):
    """Item-item weights ``B`` minimising ``||X - XB||² + l2·||B||²`` with ``diag(B) = 0``.

    The solution needs the inverse of a dense items × items Gram matrix: memory grows with the
    square of the catalogue and time with its cube (a Cholesky inverse of 10k items takes
    ~20-30 s on two cores, 20k items ~4 min, which alone would spend the training job's budget).
    Above ``max_items`` columns ``fit`` raises :class:`ModelTooLargeError` before allocating
    anything, letting callers skip it with a reason.
    Learned: ``X_`` (users × items CSR) and ``B_`` (items × items float32).
    """

    shares_fits = True

    def __init__(
        self, l2: float = 300.0, max_items: int = 10_000, weighting: str = "binary"
    ) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.weighting = weighting

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        n_items = self.item_ids_.size
        if n_items > self.max_items:
            gib = n_items * n_items * 8 / 2**30
            raise ModelTooLargeError(
                f"EASE needs a dense {n_items}x{n_items} matrix (~{gib:.1f} GiB); "
                f"{n_items} items exceed max_items={self.max_items}"
            )
        self.X_ = interaction_matrix(interactions, self.user_ids_, self.item_ids_, self.weighting)
        gram = (self.X_.T @ self.X_).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = _spd_inverse(gram)
        weights = precision / (-np.diag(precision))[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.B_ = weights.astype(np.float32)

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        weights = self._columns("B", item_pos, self._weight_columns)
        return np.asarray(self.X_[user_pos] @ weights, dtype=np.float32)

    def _weight_columns(self, item_pos: np.ndarray | None) -> np.ndarray:
        """``B`` restricted to the candidate columns, contiguous for the sparse × dense product."""
        return self.B_ if item_pos is None else np.ascontiguousarray(self.B_[:, item_pos])

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        # B[j, i] is how much item j predicts item i: the row of an item ranks what follows it.
        rows = self.B_[item_pos]
        return rows if cand_pos is None else rows[:, cand_pos]


def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix through its Cholesky factor (in place).

    Half the flops of an LU inverse; LAPACK fills the upper triangle, mirrored afterwards.
    """
    factor, info = lapack.dpotrf(gram, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info={info})")
    inverse, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (potri info={info})")
    lower = np.tril_indices_from(inverse, k=-1)
    inverse[lower] = inverse.T[lower]
    return inverse
