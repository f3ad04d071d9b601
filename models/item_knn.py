"""Item-based k-nearest-neighbours over co-occurrence (cosine or BM25-weighted)."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from models.base import Recommender
from models.matrix import interaction_matrix, row_normalize
from models.topk import block_rows, top_k

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

    def _raw_similarity(
        self, rows: np.ndarray, cols: np.ndarray | None, right_t: sp.csr_matrix | None = None
    ) -> np.ndarray:
        vectors = self.item_vectors_
        right = vectors if cols is None else vectors[cols]
        if right_t is None:
            right_t = sp.csr_matrix(right.T)
        sims = (vectors[rows] @ right_t).toarray().astype(np.float32, copy=False)
        if self.shrink > 0:
            # Damp similarities resting on few co-occurrences (a few shared users).
            support = (vectors[rows] > 0).astype(np.float32) @ (right > 0).astype(np.float32).T
            support = support.toarray()
            sims *= support / (support + self.shrink)
        return sims

    def _neighbours(self, vectors: sp.csr_matrix) -> sp.csr_matrix:
        n_items = vectors.shape[0]
        step = block_rows(n_items)
        rows_all, cols_all, vals_all = [], [], []
        # Transposed once (users × items CSR): scipy would otherwise convert it every block.
        vectors_t = sp.csr_matrix(vectors.T)
        for start in range(0, n_items, step):
            rows = np.arange(start, min(start + step, n_items))
            sims = self._raw_similarity(rows, None, vectors_t)
            sims[np.arange(rows.size), rows] = -np.inf
            sims[sims <= 0] = -np.inf
            r, c, v = top_k(sims, self.k_neighbors)
            rows_all.append(rows[r])
            cols_all.append(c)
            vals_all.append(v)
        rows_cat = np.concatenate(rows_all) if rows_all else np.empty(0, np.int64)
        cols_cat = np.concatenate(cols_all) if cols_all else np.empty(0, np.int64)
        vals_cat = np.concatenate(vals_all) if vals_all else np.empty(0, np.float32)
        # Row i keeps item i's neighbours; scoring uses S[j, i] = sim(j, i) for j the user knows,
        # so transpose: a user's item j votes for the items that have j among their neighbours.
        return sp.csr_matrix((vals_cat, (cols_cat, rows_cat)), shape=(n_items, n_items))

    def _score(self, user_pos: np.ndarray, item_pos: np.ndarray | None) -> np.ndarray:
        sims = self._columns(
            "S", item_pos, lambda pos: self.S_ if pos is None else sp.csr_matrix(self.S_[:, pos])
        )
        return (self.X_[user_pos] @ sims).toarray().astype(np.float32, copy=False)

    def _item_similarity(self, item_pos: np.ndarray, cand_pos: np.ndarray | None) -> np.ndarray:
        return self._raw_similarity(item_pos, cand_pos)


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
