"""Item-based k-nearest-neighbours over co-occurrence (cosine or BM25-weighted)."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from models.base import Recommender
from models.matrix import interaction_matrix, row_normalize
from models.topk import block_rows, map_blocks, sparse_top_k

SIMILARITIES = ("cosine", "bm25")


class ItemKNNRecommender(Recommender):
    """Scores an item by the similarity of its ``k_neighbors`` nearest items the user knows.

    ``similarity="cosine"`` compares the items' user vectors; ``"bm25"`` first re-weights them
    like BM25 documents (heavy users count less, long item histories are length-normalised), which
    often ranks better on skewed data. Only each item's top neighbours are kept, so the similarity
    matrix is sparse (items × k) and is computed in blocks of items.
    Learned: ``X_`` (users × items CSR) and ``S_`` (items × items sparse, row = an item's
    neighbours).
    """

    shares_fits = True

    def __init__(
        self,
        k_neighbors: int = 100,
        similarity: str = "cosine",
        shrink: float = 0.0,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        weighting: str = "binary",
    ) -> None:
        self.k_neighbors = k_neighbors
        self.similarity = similarity
        self.shrink = shrink
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.weighting = weighting

    def _fit(
        self,
        interactions: pl.DataFrame,
        items: pl.DataFrame | None,
        users: pl.DataFrame | None,
    ) -> None:
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {self.similarity!r}")
        self.X_ = interaction_matrix(interactions, self.user_ids_, self.item_ids_, self.weighting)
        self.item_vectors_ = self._item_vectors(self.X_)
        self.S_ = self._neighbours(self.item_vectors_)

    def _item_vectors(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """Items × users vectors whose dot products are the similarities."""
        item_users = sp.csr_matrix(X.T)
        if self.similarity == "bm25":
            item_users = _bm25(item_users, self.bm25_k1, self.bm25_b)
        return row_normalize(item_users)

    def _similarity(
        self, left: sp.csr_matrix, right_t: sp.csr_matrix, right_t_binary: sp.csr_matrix | None
    ) -> sp.csr_matrix:
        """Sparse similarities of the item vectors ``left`` (rows) to the columns of ``right_t``.

        ``right_t_binary`` is ``right_t`` with every stored value set to 1, needed (and given)
        only with ``shrink``. Cells of items sharing no user stay absent.
        """
        sims = sp.csr_matrix(left @ right_t)
        if self.shrink > 0:
            # Damp similarities resting on few co-occurrences (a few shared users).
            support = sp.csr_matrix(_binary(left) @ right_t_binary)
            support.data = support.data / (support.data + self.shrink)
            sims = sp.csr_matrix(sims.multiply(support))
        return sims

    def _neighbours(self, vectors: sp.csr_matrix) -> sp.csr_matrix:
        n_items = vectors.shape[0]
        # Transposed once (users × items CSR): scipy would otherwise convert it every block.
        vectors_t = sp.csr_matrix(vectors.T)
        vectors_t_binary = _binary(vectors_t) if self.shrink > 0 else None
        # A block's similarities are sparse, but the rows are sized as if they were dense so a
        # block stays bounded even when nearly every pair of items shares a user.
        step = block_rows(n_items)

        def block(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            stop = min(start + step, n_items)
            sims = self._similarity(vectors[start:stop], vectors_t, vectors_t_binary)
            # An item is not its own neighbour, and a non-positive similarity is no evidence.
            row_of = np.repeat(np.arange(start, stop), np.diff(sims.indptr))
            sims.data[(sims.indices == row_of) | (sims.data <= 0)] = 0
            sims.eliminate_zeros()
            r, c, v = sparse_top_k(sims, self.k_neighbors)
            return r + start, c, v

        parts = map_blocks(block, range(0, n_items, step))
        rows_cat = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        cols_cat = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
        vals_cat = np.concatenate([p[2] for p in parts]) if parts else np.empty(0, np.float32)
        # Row i keeps item i's neighbours; scoring uses S[j, i] = sim(j, i) for j the user knows,
        # so transpose: a user's item j votes for the items that have j among their neighbours.
        return sp.csr_matrix((vals_cat, (cols_cat, rows_cat)), shape=(n_items, n_items))

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        sims = self._columns(
            "S", item_pos, lambda pos: self.S_ if pos is None else sp.csr_matrix(self.S_[:, pos])
        )
        return (self.X_[user_pos] @ sims).toarray().astype(np.float32, copy=False)

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        def transposed(pos: np.ndarray | None) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
            right = self.item_vectors_ if pos is None else self.item_vectors_[pos]
            right_t = sp.csr_matrix(right.T)
            return right_t, _binary(right_t) if self.shrink > 0 else None

        right_t, right_t_binary = self._columns("vectors_t", cand_pos, transposed)
        sims = self._similarity(self.item_vectors_[item_pos], right_t, right_t_binary)
        return sims.toarray().astype(np.float32, copy=False)


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The same sparsity pattern with every stored value 1 (float32): products count overlaps."""
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out


def _bm25(item_users: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
    """BM25 weights with items as documents and users as terms.

    A user who interacted with everything says little about any item (low idf); an item with a
    long history is length-normalised so popular items do not dominate every neighbourhood.
    """
    coo = item_users.tocoo()
    n_docs = item_users.shape[0]
    doc_freq = np.bincount(coo.col, minlength=item_users.shape[1])
    idf = np.log(n_docs) - np.log1p(doc_freq)
    idf = np.maximum(idf, 0.0)
    lengths = np.asarray(item_users.sum(axis=1)).ravel()
    mean_length = lengths.mean() if lengths.size and lengths.mean() > 0 else 1.0
    norm = (1.0 - b) + b * lengths / mean_length
    data = coo.data * (k1 + 1.0) / (k1 * norm[coo.row] + coo.data) * idf[coo.col]
    out = sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=item_users.shape)
    out.eliminate_zeros()
    return out
