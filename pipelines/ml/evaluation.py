"""How the training job measures models: the protocol, k, and challenger against champion.

Challenger and champion are compared on exactly the same split, candidates and users: the
training step records which users it scored and each one's nDCG; the promotion step refits the
champion's algorithm and hyperparameters (from its MLflow run) on the same training part and
scores those very users, so the difference can be judged user by user, with its interval.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from models.metrics import METRIC_COLUMNS, bootstrap_ci, metric_key

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from models.protocols import Split

PROTOCOL = "future-events"
# Also reported for the shipped model (not used to choose it): the plain global time cut-off.
SECONDARY_PROTOCOLS = ("temporal",)
K = 10
RANDOM_STATE = 42
METRICS = METRIC_COLUMNS
PARAMS_KEY = "params_json"
DIGEST_KEY = "data_digest"
PER_USER_ARTIFACT = "evaluation/per_user.parquet"


def mlflow_metric(model: str | None, metric: str) -> str:
    """The logged name of a metric at the job's k (``hybrid/ndcg_at_10``, ``ndcg_at_10``)."""
    return metric_key(model, metric, K)


def finite_metrics(row: dict[str, Any]) -> dict[str, float]:
    """The row's metrics that have a value (a failed or skipped model has none)."""
    return {
        metric: float(row[metric])
        for metric in METRICS
        if row.get(metric) is not None and row[metric] == row[metric]
    }


def data_digest(*frames: pl.DataFrame) -> str:
    """A short fingerprint of the training frames: the same data gives the same split."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(json.dumps(frame.schema, default=str).encode())
        digest.update(int(frame.hash_rows(seed=0).sum() or 0).to_bytes(16, "little", signed=True))
        digest.update(frame.height.to_bytes(8, "little"))
    return digest.hexdigest()[:16]


def holdout_metrics(
    protocol: str,
    algorithm: str,
    params: dict[str, Any],
    interactions: pl.DataFrame,
    items: pl.DataFrame,
    users: pl.DataFrame,
) -> dict[str, float]:
    """Metrics of ``algorithm`` with ``params`` fit on the protocol's train part, scored on its test
    part (the split is deterministic, so every caller sees the same hold-out)."""
    from models.protocols import evaluation_users, make_split

    split = make_split(protocol, interactions, items, seed=RANDOM_STATE)
    every_user = evaluation_users(split, None, RANDOM_STATE)
    return score_on_users(algorithm, params, split, every_user, items, users)[0]


def score_on_users(
    algorithm: str,
    params: dict[str, Any],
    split: Split,
    eval_users: np.ndarray,
    items: pl.DataFrame,
    users: pl.DataFrame,
) -> tuple[dict[str, float], pl.DataFrame]:
    """Metrics and per-user nDCG of ``algorithm`` refit on ``split.train``, on ``eval_users``."""
    from models.protocols import score_split
    from models.registry import make_model

    model = make_model(algorithm, params).fit(split.train, items, users)
    metrics, per_user = score_split(model, split, K, users=eval_users, random_state=RANDOM_STATE)
    return finite_metrics(metrics), per_user


def logged_model(client: MlflowClient, version: ModelVersion) -> tuple[str, dict[str, Any]]:
    """(algorithm, hyperparameters) a registered version was trained with, from its run."""
    logged = client.get_run(version.run_id).data.params
    return logged["algorithm"], json.loads(logged.get(PARAMS_KEY, "{}"))


@dataclass(frozen=True)
class PairedComparison:
    """Challenger minus champion nDCG@k over the same users, with a 95 % bootstrap interval."""

    users: int
    difference: float
    low: float
    high: float


def paired_comparison(challenger: pl.DataFrame, champion: pl.DataFrame) -> PairedComparison:
    """Compare per-user nDCG frames (``user_id, ndcg``) on the users both were scored on."""
    joined = challenger.select("user_id", pl.col("ndcg").alias("a")).join(
        champion.select("user_id", pl.col("ndcg").alias("b")), on="user_id"
    )
    diff = (joined["a"] - joined["b"]).to_numpy()
    low, high = bootstrap_ci(diff, random_state=RANDOM_STATE)
    return PairedComparison(
        users=int(diff.size),
        difference=float(diff.mean()) if diff.size else float("nan"),
        low=low,
        high=high,
    )
