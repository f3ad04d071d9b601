"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky) solved by batched ALS + CG."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from models.base import Recommender
from models.matrix import interaction_matrix, row_normalize

# Non-zeros handled per solver block: bounds the (nnz × factors) gathers to ~128 MB.
_NNZ_PER_BLOCK = 500_000
# Padded (rows × longest row × factors) float32 cells gathered at once by the exact solver
# (~64 MB), and at most this many f × f systems per batch.
_EXACT_CELLS = 16 * 1024 * 1024
_EXACT_ROWS = 4096
SOLVERS = ("explicit", "cg")


class ALSRecommender(Recommender):
    """Factorises confidence-weighted preferences ``p_ui`` with confidence ``1 + alpha·w_ui``.

    Each half-step solves every user's (then item's) regularised least squares by ``cg_steps``
    conjugate-gradient steps warm-started from the previous factors (Takács et al., 2011).
    The default ``solver="explicit"`` first forms each row's f × f normal equations with one
    batched BLAS product over rows padded to similar lengths (O(nnz·f²) flops, once per
    half-step), after which every CG step is a cheap batched mat-vec. ``solver="cg"`` is the
    matrix-free variant (O(nnz·f) per step) whose numpy gathers are memory-bound: it measured
    ~3× slower here at f = 64. (A batched LAPACK solve of the explicit systems was slower
    still: numpy's stacked ``solve`` costs ~0.1 ms per 64 × 64 system.) Both work on all rows
    at once in bounded blocks, with no per-user Python loop.
    Learned: ``user_factors_`` (users × f) and ``item_factors_`` (items × f), float32.
    """

    shares_fits = True

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 6,
        cg_steps: int = 3,
        weighting: str = "log",
        random_state: int = 42,
        solver: str = "explicit",
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.weighting = weighting
        self.random_state = random_state
        self.solver = solver

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
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        rng = np.random.default_rng(self.random_state)
        scale = 0.01
        users_f = (rng.standard_normal((X.shape[0], self.factors)) * scale).astype(np.float32)
        items_f = (rng.standard_normal((X.shape[1], self.factors)) * scale).astype(np.float32)
        # Thousands of small BLAS calls (f × f systems): extra BLAS threads only add hand-offs,
        # and on a shared machine their spin-waits cost 3-30× (measured) — one thread each.
        with threadpool_limits(limits=1, user_api="blas"):
            self._sweeps(confidence, confidence_t, users_f, items_f)

    def _sweeps(
        self,
        confidence: sp.csr_matrix,
        confidence_t: sp.csr_matrix,
        users_f: np.ndarray,
        items_f: np.ndarray,
    ) -> None:
        """Alternate the users' and the items' half-steps ``iterations`` times."""
        for _ in range(self.iterations):
            if self.solver == "explicit":
                users_f = _explicit_solve(
                    confidence, items_f, users_f, self.regularization, self.cg_steps
                )
                items_f = _explicit_solve(
                    confidence_t, users_f, items_f, self.regularization, self.cg_steps
                )
            else:
                users_f = _cg_solve(
                    confidence, items_f, users_f, self.regularization, self.cg_steps
                )
                items_f = _cg_solve(
                    confidence_t, users_f, items_f, self.regularization, self.cg_steps
                )
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


def _explicit_solve(
    confidence: sp.csr_matrix,
    fixed: np.ndarray,
    start_x: np.ndarray,
    regularization: float,
    steps: int,
) -> np.ndarray:
    """``steps`` CG steps on ``(FᵀF + Fᵀ(C_u − I)F + λI) x_u = Fᵀ C_u p_u`` for every row.

    ``confidence`` holds ``c_ui − 1`` on observed cells (``p_ui = 1`` there). Rows are sorted
    by length and cut into batches whose padded gathers fit a fixed budget; one batched matrix
    product builds a batch's f × f systems, then CG runs on them from ``start_x`` (f steps would
    be exact; warm starts need few).
    """
    n_rows, f = confidence.shape[0], fixed.shape[1]
    gram = (fixed.T @ fixed).astype(np.float32)
    gram[np.diag_indices(f)] += np.float32(regularization)
    out = np.zeros((n_rows, f), dtype=np.float32)  # empty rows: b = 0, so x = 0
    indptr = confidence.indptr.astype(np.int64)
    counts = np.diff(indptr)
    order = np.argsort(counts, kind="stable")
    sorted_counts = counts[order]
    begin = int(np.searchsorted(sorted_counts, 1))
    while begin < n_rows:
        longest = int(sorted_counts[min(begin + _EXACT_ROWS, n_rows) - 1])
        rows_fit = max(1, _EXACT_CELLS // max(1, longest * f))
        stop = min(begin + _EXACT_ROWS, begin + rows_fit, n_rows)
        longest = int(sorted_counts[stop - 1])
        rows = order[begin:stop]
        offsets = np.arange(longest)
        present = offsets[None, :] < counts[rows][:, None]
        cells = np.where(present, indptr[rows][:, None] + offsets[None, :], 0)
        weights = np.where(present, confidence.data[cells], 0.0).astype(np.float32)
        factors = fixed[confidence.indices[cells]]  # rows × longest × f (padding ignored)
        weighted = factors * weights[:, :, None]
        systems = np.matmul(weighted.transpose(0, 2, 1), factors)
        systems += gram
        # b_u = Σ c_ui y_i over observed cells; c = 1 + weight and padding contributes 0.
        rhs = np.einsum("rl,rlf->rf", weights + present, factors)
        del factors, weighted
        out[rows] = _batched_cg(systems, rhs, start_x[rows], steps)
        begin = stop
    return out


def _batched_cg(systems: np.ndarray, rhs: np.ndarray, x: np.ndarray, steps: int) -> np.ndarray:
    """Conjugate gradient on a stack of SPD systems at once (one batched mat-vec per step)."""
    x = x.astype(np.float32, copy=True)
    residual = rhs - np.matmul(systems, x[:, :, None])[:, :, 0]
    direction = residual.copy()
    rs_old = np.einsum("ij,ij->i", residual, residual)
    for _ in range(steps):
        a_dir = np.matmul(systems, direction[:, :, None])[:, :, 0]
        denom = np.einsum("ij,ij->i", direction, a_dir)
        step = np.divide(rs_old, denom, out=np.zeros_like(rs_old), where=denom > 1e-20)
        x += step[:, None] * direction
        residual -= step[:, None] * a_dir
        rs_new = np.einsum("ij,ij->i", residual, residual)
        beta = np.divide(rs_new, rs_old, out=np.zeros_like(rs_new), where=rs_old > 1e-20)
        direction = residual + beta[:, None] * direction
        rs_old = rs_new
    return x


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
