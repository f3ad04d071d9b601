"""Ranking metrics over polars frames, matching recommenders-team/recommenders definitions.

Inputs: recommendations ``(user_id, item_id, rank)`` with 1-based ranks and ground truth
``(user_id, item_id)``. As in that library, users are averaged over those present in both
frames, relevance is binary, precision divides by ``k`` even when a user got fewer than k items,
nDCG discounts by the natural log ``1 / ln(1 + rank)``, ``map`` divides the summed precision at
each hit by the user's number of relevant items and ``map_at_k`` by ``min(relevant, k)``.
Each metric is one vectorised pass (joins and group-bys), never a loop over users.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def _prepare(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Common users only, top-k of the recommendations, deduplicated truth."""
    recs = recs.select(
        pl.col("user_id").cast(pl.Int64), pl.col("item_id").cast(pl.Int64), pl.col("rank")
    ).filter(pl.col("rank") <= k)
    truth = truth.select(pl.col("user_id").cast(pl.Int64), pl.col("item_id").cast(pl.Int64))
    truth = truth.unique()
    common = recs.select("user_id").unique().join(truth.select("user_id").unique(), on="user_id")
    return recs.join(common, on="user_id"), truth.join(common, on="user_id")


def _per_user(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> pl.DataFrame:
    """One row per common user with hits, relevant count, DCG, IDCG and summed precision."""
    recs, truth = _prepare(recs, truth, k)
    relevant = truth.group_by("user_id").agg(pl.len().alias("relevant"))
    hits = (
        recs.join(truth, on=["user_id", "item_id"])
        .sort(["user_id", "rank"])
        .with_columns((pl.int_range(pl.len()).over("user_id") + 1).alias("hit_no"))
        .group_by("user_id")
        .agg(
            pl.len().alias("hits"),
            (1.0 / (1.0 + pl.col("rank").cast(pl.Float64)).log()).sum().alias("dcg"),
            (pl.col("hit_no") / pl.col("rank")).sum().alias("precision_sum"),
        )
    )
    out = relevant.join(hits, on="user_id", how="left").fill_null(0)
    ideal = np.cumsum(1.0 / np.log(1.0 + np.arange(1, k + 1)))
    idcg = ideal[np.minimum(out["relevant"].to_numpy(), k) - 1]
    return out.with_columns(pl.Series("idcg", idcg))


def precision_at_k(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> float:
    """Mean over users of hits in the top k divided by k."""
    users = _per_user(recs, truth, k)
    return float((users["hits"] / k).mean()) if users.height else 0.0


def recall_at_k(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> float:
    """Mean over users of hits in the top k divided by the user's relevant items."""
    users = _per_user(recs, truth, k)
    return float((users["hits"] / users["relevant"]).mean()) if users.height else 0.0


def ndcg_at_k(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> float:
    """Mean over users of DCG / ideal DCG with binary gain and ``1/ln(1+rank)`` discount."""
    users = _per_user(recs, truth, k)
    return float((users["dcg"] / users["idcg"]).mean()) if users.height else 0.0


def map(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> float:
    """Mean over users of (sum of precision at each hit in the top k) / relevant items."""
    users = _per_user(recs, truth, k)
    return float((users["precision_sum"] / users["relevant"]).mean()) if users.height else 0.0


def map_at_k(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> float:
    """Like :func:`map` but normalised by ``min(relevant, k)``, so a perfect list scores 1."""
    users = _per_user(recs, truth, k)
    if not users.height:
        return 0.0
    return float((users["precision_sum"] / users["relevant"].clip(upper_bound=k)).mean())


def catalogue_coverage(recs: pl.DataFrame, catalogue: pl.Series | np.ndarray) -> float:
    """Share of the catalogue that appears in at least one user's list."""
    catalogue_ids = np.unique(np.asarray(catalogue, dtype=np.int64))
    if catalogue_ids.size == 0:
        return 0.0
    shown = np.unique(recs["item_id"].cast(pl.Int64).to_numpy())
    return float(np.isin(shown, catalogue_ids).sum() / catalogue_ids.size)


def cold_start_recall(
    recs: pl.DataFrame,
    truth: pl.DataFrame,
    train_items: pl.Series | np.ndarray,
    k: int,
) -> float | None:
    """Recall@k counted on relevant items absent from training only; ``None`` if there are none.

    Tells whether a model can reach brand-new items (events nobody has interacted with yet),
    which pure collaborative models cannot.
    """
    known = pl.Series("item_id", np.unique(np.asarray(train_items, dtype=np.int64)))
    cold_truth = truth.filter(~pl.col("item_id").cast(pl.Int64).is_in(known.implode()))
    if cold_truth.height == 0:
        return None
    users = _per_user(recs, cold_truth, k)
    return float((users["hits"] / users["relevant"]).mean()) if users.height else 0.0


def evaluate(
    recs: pl.DataFrame,
    truth: pl.DataFrame,
    k: int,
    *,
    catalogue: pl.Series | np.ndarray | None = None,
    train_items: pl.Series | np.ndarray | None = None,
) -> dict[str, float | None]:
    """Every metric at once, keyed as the experiment table names them."""
    users = _per_user(recs, truth, k)
    n = users.height
    out: dict[str, float | None] = {
        "precision@k": float((users["hits"] / k).mean()) if n else 0.0,
        "recall@k": float((users["hits"] / users["relevant"]).mean()) if n else 0.0,
        "ndcg@k": float((users["dcg"] / users["idcg"]).mean()) if n else 0.0,
        "map": float((users["precision_sum"] / users["relevant"]).mean()) if n else 0.0,
        "map@k": float((users["precision_sum"] / users["relevant"].clip(upper_bound=k)).mean())
        if n
        else 0.0,
    }
    out["coverage"] = catalogue_coverage(recs, catalogue) if catalogue is not None else None
    out["cold_start_recall"] = (
        cold_start_recall(recs, truth, train_items, k) if train_items is not None else None
    )
    return out
