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

from models.matrix import ids_alike

# Every metric an evaluation reports, in the order tables and logs list them.
METRIC_COLUMNS = (
    "precision@k",
    "recall@k",
    "ndcg@k",
    "ndcg_low",
    "ndcg_high",
    "map",
    "map@k",
    "coverage",
    "cold_start_recall",
    "warm_start_recall",
)


def _prepare(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Common users only, top-k of the recommendations, deduplicated truth."""
    recs, truth = ids_alike(
        recs.select("user_id", "item_id", "rank"),
        truth.select("user_id", "item_id"),
        ("user_id", "item_id"),
    )
    recs = recs.filter(pl.col("rank") <= k)
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
    catalogue_ids = pl.Series("item_id", np.asarray(catalogue)).unique()
    if catalogue_ids.len() == 0:
        return 0.0
    shown = recs.select("item_id").unique()
    known, shown = ids_alike(catalogue_ids.to_frame(), shown, ("item_id",))
    return float(shown.join(known, on="item_id").height / catalogue_ids.len())


def _slice_recall(
    recs: pl.DataFrame,
    truth: pl.DataFrame,
    train_items: pl.Series | np.ndarray,
    k: int,
    cold: bool,
) -> float | None:
    known = pl.Series("item_id", np.asarray(train_items)).unique().to_frame()
    truth, known = ids_alike(truth.select("user_id", "item_id"), known, ("item_id",))
    in_train = pl.col("item_id").is_in(known["item_id"].implode())
    sliced = truth.filter(~in_train if cold else in_train)
    if sliced.height == 0:
        return None
    users = _per_user(recs, sliced, k)
    return float((users["hits"] / users["relevant"]).mean()) if users.height else 0.0


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
    return _slice_recall(recs, truth, train_items, k, cold=True)


def warm_start_recall(
    recs: pl.DataFrame,
    truth: pl.DataFrame,
    train_items: pl.Series | np.ndarray,
    k: int,
) -> float | None:
    """Recall@k counted on relevant items that had interactions in training (the warm slice)."""
    return _slice_recall(recs, truth, train_items, k, cold=False)


def per_user_metrics(recs: pl.DataFrame, truth: pl.DataFrame, k: int) -> pl.DataFrame:
    """``user_id, ndcg, recall, hits`` for every user of ``truth`` (0 for users without a list).

    The unit of the confidence intervals and of paired comparisons: two models scored on the
    same users can be compared user by user.
    """
    truth = truth.select("user_id", "item_id")
    users = truth.select("user_id").unique()
    scored = _per_user(recs, truth, k).select(
        "user_id",
        (pl.col("dcg") / pl.col("idcg")).alias("ndcg"),
        (pl.col("hits") / pl.col("relevant")).alias("recall"),
        "hits",
    )
    return (
        users.join(scored, on="user_id", how="left")
        .with_columns(pl.col("ndcg", "recall").fill_null(0.0), pl.col("hits").fill_null(0))
        .sort("user_id")
    )


def bootstrap_ci(
    values: np.ndarray, *, level: float = 0.95, n_boot: int = 1000, random_state: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (per-user metrics or their
    paired differences); ``(nan, nan)`` for an empty array."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(random_state)
    means = np.empty(n_boot)
    # In chunks so that n_boot × n indices never need to exist at once.
    chunk = max(1, 4_000_000 // values.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        means[start:stop] = values[rng.integers(0, values.size, (stop - start, values.size))].mean(
            axis=1
        )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


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
    out["warm_start_recall"] = (
        warm_start_recall(recs, truth, train_items, k) if train_items is not None else None
    )
    return out


def metric_key(model: str | None, metric: str, k: int) -> str:
    """The one name of a metric everywhere it is logged (MLflow forbids ``@``):
    ``ndcg@k`` of model ``hybrid`` at k=10 is ``hybrid/ndcg_at_10``; without a model,
    ``ndcg_at_10``."""
    name = metric.replace("@k", f"_at_{k}").replace("@", "_at_")
    return f"{model}/{name}" if model else name
