"""ML assets: train and evaluate recommenders, register the winner, publish batch recommendations.

Training logs every candidate's hold-out metrics to MLflow, registers the best as ``challenger``
and promotes it to ``champion`` only when :func:`decide_promotion` says so. Scoring loads the
champion and replaces the ``serving.*`` tables atomically.
"""

import json
import time

import dagster as dg
import polars as pl

from core.db import connect
from core.settings import get_settings
from pipelines.ml import publish, tracking
from pipelines.ml.evaluation import (
    PARAMS_KEY,
    PROTOCOL,
    SECONDARY_PROTOCOLS,
    K,
    champion_holdout_metrics,
    finite_metrics,
    holdout_metrics,
    metric_key,
)
from pipelines.ml.promotion import PRIMARY_METRIC, decide_promotion
from pipelines.ml.training_data import load_training_data

RECOMMENDER = dg.AssetKey(["ml", "recommender"])
SERVING_RECOMMENDATIONS = dg.AssetKey(["serving", "recommendations"])
TRAINING_INPUTS = [
    dg.AssetKey(["marts", "ml_training_interactions"]),
    dg.AssetKey(["marts", "ml_event_features"]),
    dg.AssetKey(["marts", "ml_user_features"]),
]


def _markdown(table: pl.DataFrame) -> str:
    return table.drop("params").to_pandas().to_markdown(index=False, floatfmt=".4f")


def _lineage(interactions: pl.DataFrame, items: pl.DataFrame, users: pl.DataFrame) -> dict:
    return {
        "data.interactions": interactions.height,
        "data.users": interactions["user_id"].n_unique() if interactions.height else 0,
        "data.items": items.height,
        "data.user_profiles": users.height,
        "data.window_start": str(interactions["timestamp"].min()) if interactions.height else "",
        "data.window_end": str(interactions["timestamp"].max()) if interactions.height else "",
    }


@dg.asset(key=RECOMMENDER, group_name="ml", deps=TRAINING_INPUTS, kinds={"scikit-learn", "mlflow"})
def recommender(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Train every candidate recommender, evaluate on a future-events hold-out, register the best.

    Hyperparameters are tuned on a validation split carved from the training part only. The best
    model is refit on all data, logged as an MLflow pyfunc and registered as ``challenger``; it
    becomes ``champion`` when it beats the current champion, evaluated on the same hold-out.
    """
    import mlflow

    from models.experiment import fit_final, run_experiment
    from models.pyfunc import log_recommender

    settings = get_settings()
    started = time.perf_counter()
    with connect() as conn:
        interactions, items, users = load_training_data(conn)
    client = tracking.configure_mlflow()
    result = run_experiment(
        interactions, items, users, protocol=PROTOCOL, k=K, random_state=42, now=None
    )
    if not result.best_model:
        raise dg.Failure(
            "every candidate model failed or was skipped; nothing is registered",
            metadata={"evaluation": dg.MetadataValue.md(_markdown(result.table))},
        )
    best = result.table.filter(pl.col("model") == result.best_model).row(0, named=True)
    challenger_metrics = finite_metrics(best)
    with mlflow.start_run(run_name=f"train-{context.run_id[:8]}") as run:
        mlflow.log_params(
            {
                "algorithm": result.best_model,
                "protocol": PROTOCOL,
                "k": K,
                PARAMS_KEY: json.dumps(result.best_params, sort_keys=True, default=str),
                **_lineage(interactions, items, users),
                **{f"split.{k}": v for k, v in result.split_summary.items()},
            }
        )
        for row in result.table.iter_rows(named=True):
            for metric, value in finite_metrics(row).items():
                mlflow.log_metric(metric_key(row["model"], metric), value)
        mlflow.log_metrics({metric_key(None, m): v for m, v in challenger_metrics.items()})
        for protocol in SECONDARY_PROTOCOLS:
            secondary = holdout_metrics(
                protocol, result.best_model, result.best_params, interactions, items, users
            )
            mlflow.log_metrics({metric_key(protocol, m): v for m, v in secondary.items()})
        mlflow.log_table(result.table.to_pandas(), artifact_file=f"evaluation/{PROTOCOL}.json")
        final = fit_final(result.best_model, result.best_params, interactions, items, users)
        info = log_recommender(final, name="model")
        version = mlflow.register_model(info.model_uri, settings.mlflow_model_name)
        client.set_registered_model_alias(version.name, tracking.CHALLENGER, version.version)

        champion = tracking.version_by_alias(client, tracking.CHAMPION)
        champion_metrics = (
            champion_holdout_metrics(client, champion, interactions, items, users)
            if champion is not None
            else None
        )
        decision = decide_promotion(
            challenger_metrics,
            champion_metrics,
            margin=settings.promotion_margin,
            floor=settings.promotion_floor_ndcg,
        )
        if decision.promote:
            client.set_registered_model_alias(version.name, tracking.CHAMPION, version.version)
        for key, value in {
            "promotion.decision": "promoted" if decision.promote else "rejected",
            "promotion.reason": decision.reason,
        }.items():
            mlflow.set_tag(key, value)
            client.set_model_version_tag(version.name, version.version, key, value)
        run_id = run.info.run_id

    return dg.MaterializeResult(
        metadata={
            "model_version": dg.MetadataValue.text(tracking.model_version_label(version)),
            "algorithm": dg.MetadataValue.text(result.best_model),
            "params": dg.MetadataValue.json(result.best_params),
            PRIMARY_METRIC: dg.MetadataValue.float(challenger_metrics[PRIMARY_METRIC]),
            "champion_metrics": dg.MetadataValue.json(champion_metrics or {}),
            "promoted": dg.MetadataValue.bool(decision.promote),
            "promotion_reason": dg.MetadataValue.text(decision.reason),
            "evaluation": dg.MetadataValue.md(_markdown(result.table)),
            "mlflow_run": dg.MetadataValue.url(
                f"{settings.mlflow_ui_url}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
            ),
            "split": dg.MetadataValue.json(
                json.loads(json.dumps(result.split_summary, default=str))
            ),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 2)),
        }
    )


@dg.asset(
    key=SERVING_RECOMMENDATIONS,
    group_name="serving",
    deps=[RECOMMENDER, dg.AssetKey(["marts", "mart_event_popularity"])],
    kinds={"postgres", "mlflow"},
)
def serving_recommendations() -> dg.MaterializeResult:
    """Score every user and every upcoming event with the champion; publish to ``serving.*``.

    Top-k events per user (only published, upcoming events), similar events per upcoming event,
    and popular events per city, category and overall, all stamped with the champion's version
    and swapped in atomically: a failed run leaves the previous set serving.
    """
    from models.pyfunc import load_recommender

    settings = get_settings()
    started = time.perf_counter()
    client = tracking.configure_mlflow()
    champion = tracking.version_by_alias(client, tracking.CHAMPION)
    if champion is None:
        raise dg.Failure("no champion model is registered yet: run the training asset first")
    label = tracking.model_version_label(champion)
    model = load_recommender(f"models:/{champion.name}@{tracking.CHAMPION}")
    with connect() as conn:
        user_ids = [row[0] for row in conn.execute("SELECT id FROM app.users ORDER BY id")]
        candidates = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM app.events WHERE status = 'published' AND starts_at > now()"
            )
        ]
    recommendations = model.recommend(
        user_ids, k=settings.recommendations_k, exclude_seen=True, candidates=candidates
    )
    similar = model.similar_items(candidates, k=settings.similar_k, candidates=candidates)
    with connect() as conn:
        publish.create_next_tables(conn)
        counts = publish.fill_next_tables(
            conn, recommendations, similar, label, settings.recommendations_k
        )
        publish.swap_in_next_tables(conn)
        conn.execute(
            """INSERT INTO serving.publications (model_version, model_name, users_scored,
                                                 events_scored) VALUES (%s, %s, %s, %s)""",
            (label, champion.name, recommendations["user_id"].n_unique(), len(candidates)),
        )
    return dg.MaterializeResult(
        metadata={
            "model_version": dg.MetadataValue.text(label),
            "users_with_recommendations": dg.MetadataValue.int(
                recommendations["user_id"].n_unique()
            ),
            "candidate_events": dg.MetadataValue.int(len(candidates)),
            **{f"rows_{k}": dg.MetadataValue.int(v) for k, v in counts.items()},
            "preview": dg.MetadataValue.md(
                recommendations.head(10).to_pandas().to_markdown(index=False)
            ),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 2)),
        }
    )
