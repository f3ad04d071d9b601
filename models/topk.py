"""Top-k selection over dense and sparse score blocks, and the thread pool that runs the blocks.

Every batch scorer walks its rows in blocks: the selection here is the inner step of each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

# Budget for one dense score block (float32 cells): 64 MB per array whatever the catalogue size
# (a blended model holds a few such arrays at once), at the cost of more, still vectorised, blocks.
BLOCK_CELLS = 16 * 1024 * 1024

# Blocks processed at once. The heavy steps of a block (BLAS products, scipy sparse products,
# ufuncs, argpartition, sorts) release the GIL, so threads use every core without copying the
# fitted model into other processes; memory grows by one block per thread.
BLOCK_THREADS = max(1, min(4, len(os.sched_getaffinity(0))))

T = TypeVar("T")
R = TypeVar("R")


def block_rows(n_cols: int, cells: int = BLOCK_CELLS) -> int:
    """How many rows of ``n_cols`` float32 scores fit in one block."""
    return max(1, cells // max(1, n_cols))


def map_blocks(func: Callable[[T], R], blocks: Iterable[T]) -> list[R]:
    """``[func(b) for b in blocks]`` with up to :data:`BLOCK_THREADS` blocks running at once.

    Results come back in the order of ``blocks``; an exception in any block propagates. The
    first block runs alone: the per-call caches it fills (candidate columns of a learned
    matrix) are then built once and shared by the others instead of once per thread.
    """
    blocks = list(blocks)
    if BLOCK_THREADS == 1 or len(blocks) <= 2:
        return [func(block) for block in blocks]
    first = func(blocks[0])
    with ThreadPoolExecutor(max_workers=BLOCK_THREADS) as pool:
        return [first, *pool.map(func, blocks[1:])]


def top_k(
    scores: np.ndarray, k: int, ties: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best ``k`` finite scores of every row, best first.

    Returns ``(row, col, value)`` flat arrays with rows in order and, within a row, descending
    value; ``-inf`` marks excluded cells, which never come back. Ties break by column index, or
    by ``ties`` (an integer array shaped like ``scores``) when given, so results are
    reproducible.
    """
    n_rows, n_cols = scores.shape
    kk = min(k, n_cols)
    if kk <= 0 or n_rows == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float32)
    if kk < n_cols:
        # Select the first kk of the negated scores: partitioning for the *last* kk positions
        # instead avoids that copy but measured 8× slower on rows full of equal values (-inf
        # for excluded items, as in sparse neighbourhoods).
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    vals = np.take_along_axis(scores, part, axis=1)
    keys = part if ties is None else np.take_along_axis(ties, part, axis=1)
    order = np.lexsort((keys, -vals), axis=1)
    cols = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    rows = np.broadcast_to(np.arange(n_rows)[:, None], cols.shape)
    keep = np.isfinite(vals)
    return rows[keep], cols[keep].astype(np.int64), vals[keep].astype(np.float32)


def sparse_top_k(matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`top_k` of a CSR matrix's stored values, without densifying its rows.

    Same output contract as :func:`top_k` (absent cells count as excluded). Rows are grouped by
    their number of stored values rounded up to a power of two and each group is padded to that
    width, so the dense selection runs on at most twice the stored values instead of on every
    column: at 100k items a row of neighbours has a few thousand values, not 100,000. Column
    indices need not be sorted (sparse products leave them unsorted; sorting whole rows cost
    more than the product): ties are broken on the column index itself.
    """
    matrix = sp.csr_matrix(matrix)
    lengths = np.diff(matrix.indptr)
    widths = np.zeros_like(lengths)
    filled = lengths > 0
    widths[filled] = 1 << np.ceil(np.log2(lengths[filled])).astype(np.int64)
    rows_out, cols_out, vals_out = [], [], []
    for width in np.unique(widths[filled]):
        group = np.flatnonzero(widths == width)
        # Bounded padded blocks: a group of many long rows is selected a slice at a time.
        step = block_rows(int(width))
        for start in range(0, group.size, step):
            rows = group[start : start + step]
            offsets = np.arange(width)
            valid = offsets[None, :] < lengths[rows, None]
            flat = np.minimum(matrix.indptr[rows, None] + offsets[None, :], matrix.nnz - 1)
            padded = np.where(valid, matrix.data[flat], np.float32(-np.inf)).astype(np.float32)
            r, c, v = top_k(padded, k, ties=matrix.indices[flat])
            rows_out.append(rows[r])
            cols_out.append(matrix.indices[flat[r, c]].astype(np.int64))
            vals_out.append(v)
    if not rows_out:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float32)
    rows_cat = np.concatenate(rows_out)
    # Groups come out by width; a stable sort by row restores row order and keeps each row's
    # best-first order.
    order = np.argsort(rows_cat, kind="stable")
    return rows_cat[order], np.concatenate(cols_out)[order], np.concatenate(vals_out)[order]
