"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky) solved by batched ALS + CG."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import scipy.sparse as sp

from models.base import Recommender
from models.matrix import interaction_matrix, row_normalize

# Non-zeros handled per solver block: bounds the (nnz × factors) gathers to ~128 MB.
_NNZ_PER_BLOCK = 500_000


class ALSRecommender(Recommender):
    """Factorises confidence-weighted preferences ``p_ui`` with confidence ``1 + alpha·w_ui``.

    Each half-step solves every user's (then item's) regularised least squares by a few
    conjugate-gradient steps warm-started from the previous factors (Takács et al., 2011). The
    CG runs for all rows at once in blocks of non-zeros, so there is no per-user Python loop and
    memory stays bounded; cost per iteration is O(nnz·f + n·f²), which scales to millions of
    users and tens of millions of interactions.
    Learned: ``user_factors_`` (users × f) and ``item_factors_`` (items × f), float32.
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        cg_steps: int = 3,
        weighting: str = "log",
        random_state: int = 42,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.weighting = weighting
        self.random_state = random_state

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        X = interaction_matrix(interactions, self.user_ids_, self.item_ids_, self.weighting)
        confidence = X.copy()
        confidence.data = (self.alpha * confidence.data).astype(np.float32)
        confidence_t = sp.csr_matrix(confidence.T)
        rng = np.random.default_rng(self.random_state)
        scale = 0.01
        users_f = (rng.standard_normal((X.shape[0], self.factors)) * scale).astype(np.float32)
        items_f = (rng.standard_normal((X.shape[1], self.factors)) * scale).astype(np.float32)
        for _ in range(self.iterations):
            users_f = _cg_solve(confidence, items_f, users_f, self.regularization, self.cg_steps)
            items_f = _cg_solve(confidence_t, users_f, items_f, self.regularization, self.cg_steps)
        self.user_factors_ = users_f
        self.item_factors_ = items_f

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        items_t = self._columns(
            "factors_t",
            item_pos,
            lambda pos: np.ascontiguousarray(
                (self.item_factors_ if pos is None else self.item_factors_[pos]).T
            ),
        )
        return self.user_factors_[user_pos] @ items_t

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        unit = row_normalize(sp.csr_matrix(self.item_factors_)).toarray()
        right = unit if cand_pos is None else unit[cand_pos]
        return unit[item_pos] @ right.T


def _cg_solve(
    confidence: sp.csr_matrix,
    fixed: np.ndarray,
    start: np.ndarray,
    regularization: float,
    steps: int,
) -> np.ndarray:
    """Solve ``(FᵀF + Fᵀ(C_u − I)F + λI) x_u = Fᵀ C_u p_u`` for every row ``u`` of ``confidence``.

    ``confidence`` holds ``c_ui − 1`` on observed cells (``p_ui = 1`` there, 0 elsewhere).
    """
    gram = fixed.T @ fixed + regularization * np.eye(fixed.shape[1], dtype=np.float32)
    out = start.copy()
    indptr = confidence.indptr
    n_rows = confidence.shape[0]
    bounds = np.searchsorted(indptr, np.arange(0, indptr[-1] + _NNZ_PER_BLOCK, _NNZ_PER_BLOCK))
    bounds = np.unique(np.r_[0, np.clip(bounds, 0, n_rows), n_rows])
    for lo, hi in itertools.pairwise(bounds.tolist()):
        if hi <= lo:
            continue
        block = confidence[lo:hi]
        weights = block.data
        rhs_data = weights + 1.0
        rhs = sp.csr_matrix((rhs_data, block.indices, block.indptr), shape=block.shape) @ fixed
        x = out[lo:hi]
        residual = rhs - _apply_system(x, block, gram, fixed)
        direction = residual.copy()
        rs_old = np.einsum("ij,ij->i", residual, residual)
        for _ in range(steps):
            a_dir = _apply_system(direction, block, gram, fixed)
            denom = np.einsum("ij,ij->i", direction, a_dir)
            step = np.divide(rs_old, denom, out=np.zeros_like(rs_old), where=denom > 1e-20)
            x = x + step[:, None] * direction
            residual = residual - step[:, None] * a_dir
            rs_new = np.einsum("ij,ij->i", residual, residual)
            beta = np.divide(rs_new, rs_old, out=np.zeros_like(rs_new), where=rs_old > 1e-20)
            direction = residual + beta[:, None] * direction
            rs_old = rs_new
        out[lo:hi] = x.astype(np.float32)
    return out


def _apply_system(
    vectors: np.ndarray, block: sp.csr_matrix, gram: np.ndarray, fixed: np.ndarray
) -> np.ndarray:
    """Multiply each row's normal-equation matrix by its vector, all rows at once."""
    row_of_nnz = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
    dots = np.einsum("ij,ij->i", fixed[block.indices], vectors[row_of_nnz])
    sparse = sp.csr_matrix((block.data * dots, block.indices, block.indptr), shape=block.shape)
    return vectors @ gram + sparse @ fixed
