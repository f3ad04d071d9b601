"""How the training job measures models: the protocol, k, and the champion on today's hold-out.

Challenger and champion must be compared on the same hold-out: the champion's algorithm and
hyperparameters (from its MLflow run) are refit on today's training part and scored on today's
test part, exactly as the challenger was.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

PROTOCOL = "future-events"
# Also reported for the shipped model (not used to choose it): the plain global time cut-off.
SECONDARY_PROTOCOLS = ("temporal",)
K = 10
RANDOM_STATE = 42
METRICS = ("precision@k", "recall@k", "ndcg@k", "map", "map@k", "coverage")
PARAMS_KEY = "params_json"


def metric_key(model: str | None, metric: str) -> str:
    """An MLflow-safe metric name (``@`` is not allowed): ``item_knn/ndcg_at_10``."""
    name = metric.replace("@k", f"_at_{K}").replace("@", "_at_")
    return f"{model}/{name}" if model else name


def finite_metrics(row: dict[str, Any]) -> dict[str, float]:
    """The row's metrics that have a value (a failed or skipped model has none)."""
    return {
        metric: float(row[metric])
        for metric in METRICS
        if row.get(metric) is not None and row[metric] == row[metric]
    }


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
    from models.protocols import evaluate_on_split, make_split
    from models.registry import make_model

    split = make_split(protocol, interactions, items, seed=RANDOM_STATE)
    model = make_model(algorithm, params).fit(split.train, items, users)
    return finite_metrics(evaluate_on_split(model, split, K))


def champion_holdout_metrics(
    client: MlflowClient,
    champion: ModelVersion,
    interactions: pl.DataFrame,
    items: pl.DataFrame,
    users: pl.DataFrame,
) -> dict[str, float]:
    """The champion's metrics on today's hold-out, refit from its logged algorithm and params."""
    logged = client.get_run(champion.run_id).data.params
    algorithm, params = logged["algorithm"], json.loads(logged.get(PARAMS_KEY, "{}"))
    return holdout_metrics(PROTOCOL, algorithm, params, interactions, items, users)
