"""ML assets: train and evaluate recommenders, decide the champion, publish batch recommendations.

``ml/recommender`` compares every model and the simple references on one future-events
hold-out, refits the best on all the data, logs it to MLflow and registers it as
``challenger``. ``ml/champion`` is the promotion decision on its own: the challenger becomes
``champion`` only when it beats the current champion on the very same users by a margin and
beyond the evaluation's noise; its reason is the asset's metadata. Scoring loads the champion
and replaces the ``serving.*`` tables atomically.
"""

import json
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

from core.db import connect
from core.settings import get_settings
from pipelines.curation.assets import APP_EVENT_CURATION
from pipelines.ml import publish, tracking
from pipelines.ml.evaluation import (
    DIGEST_KEY,
    PARAMS_KEY,
    PER_USER_ARTIFACT,
    PROTOCOL,
    RANDOM_STATE,
    SECONDARY_PROTOCOLS,
    K,
    data_digest,
    finite_metrics,
    holdout_metrics,
    logged_model,
    mlflow_metric,
    paired_comparison,
    score_on_users,
)
from pipelines.ml.promotion import PRIMARY_METRIC, decide_promotion
from pipelines.ml.training_data import load_training_data

RECOMMENDER = dg.AssetKey(["ml", "recommender"])
CHAMPION = dg.AssetKey(["ml", "champion"])
SERVING_RECOMMENDATIONS = dg.AssetKey(["serving", "recommendations"])
TRAINING_INPUTS = [
    dg.AssetKey(["marts", "ml_training_interactions"]),
    dg.AssetKey(["marts", "ml_event_features"]),
    dg.AssetKey(["marts", "ml_user_features"]),
]
CHALLENGER_METRICS_ARTIFACT = "evaluation/challenger_metrics.json"


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


def _log_training_inputs(digest: str, lineage: dict) -> None:
    """The marts the model learned from, as MLflow datasets with the data's digest."""
    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    for table in TRAINING_INPUTS:
        name = ".".join(table.path)
        source = CodeDatasetSource(tags={"table": name, **{k: str(v) for k, v in lineage.items()}})
        mlflow.log_input(MetaDataset(source=source, name=name, digest=digest), context="training")


def _log_candidates(result, k: int) -> None:
    """Every candidate's metrics (``model/metric_at_k``) and the whole table as an artifact."""
    import mlflow

    for row in result.table.iter_rows(named=True):
        for metric, value in finite_metrics(row).items():
            mlflow.log_metric(mlflow_metric(row["model"], metric), value)
    mlflow.log_table(result.table.to_pandas(), artifact_file=f"evaluation/{PROTOCOL}.json")


def _describe(client, version, algorithm: str, row: dict, lineage: dict) -> None:
    """Descriptions a data engineer reads in the MLflow registry: what the model is, what it
    learned from and how it scored."""
    client.update_registered_model(
        version.name,
        description=(
            "Event recommendations for the marketplace: top-k upcoming events per user, similar "
            "events. Trained weekly by the Dagster asset ml/recommender on marts.ml_*; the "
            "alias 'champion' is what serving publishes, 'challenger' the latest trained."
        ),
    )
    client.update_model_version(
        version.name,
        version.version,
        description=(
            f"{algorithm}: nDCG@{K} {row['ndcg@k']:.4f} (95 % CI {row['ndcg_low']:.4f}–"
            f"{row['ndcg_high']:.4f}) on the {PROTOCOL} hold-out; trained on "
            f"{lineage['data.interactions']} interactions up to {lineage['data.window_end']}."
        ),
    )


def _log_per_user(per_user: pl.DataFrame, metrics: dict[str, float]) -> None:
    """The challenger's per-user scores and metrics, for the promotion step to pair with."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(PER_USER_ARTIFACT).name
        per_user.write_parquet(path)
        mlflow.log_artifact(str(path), artifact_path=str(Path(PER_USER_ARTIFACT).parent))
    mlflow.log_dict(metrics, CHALLENGER_METRICS_ARTIFACT)


@dg.asset(key=RECOMMENDER, group_name="ml", deps=TRAINING_INPUTS, kinds={"scikit-learn", "mlflow"})
def recommender(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Train every candidate recommender and the simple references, register the best as challenger.

    All of them are scored on one future-events hold-out (events starting in the 90 days after
    the cut-off, the same test users for each); hyperparameters are tuned on a validation split
    carved from the training part only. The best is refit on all the data, logged as an MLflow
    pyfunc with the training marts as datasets, and registered with the alias ``challenger``.
    Whether it becomes champion is decided by ``ml/champion``.
    """
    import mlflow

    from models.experiment import fit_final, run_experiment
    from models.pyfunc import log_recommender

    settings = get_settings()
    started = time.perf_counter()
    with connect() as conn:
        interactions, items, users = load_training_data(conn)
    digest = data_digest(interactions, items, users)
    client = tracking.configure_mlflow()
    result = run_experiment(
        interactions, items, users, protocol=PROTOCOL, k=K, random_state=RANDOM_STATE
    )
    if not result.best_model:
        raise dg.Failure(
            "every candidate model failed or was skipped; nothing is registered",
            metadata={"evaluation": dg.MetadataValue.md(_markdown(result.table))},
        )
    best = result.table.filter(pl.col("model") == result.best_model).row(0, named=True)
    challenger_metrics = finite_metrics(best)
    lineage = _lineage(interactions, items, users)
    with mlflow.start_run(run_name=f"train-{context.run_id[:8]}") as run:
        mlflow.log_params(
            {
                "algorithm": result.best_model,
                "protocol": PROTOCOL,
                "k": K,
                PARAMS_KEY: json.dumps(result.best_params, sort_keys=True, default=str),
                DIGEST_KEY: digest,
                **lineage,
                **{f"split.{k}": v for k, v in result.split_summary.items()},
            }
        )
        _log_training_inputs(digest, lineage)
        _log_candidates(result, K)
        mlflow.log_metrics({mlflow_metric(None, m): v for m, v in challenger_metrics.items()})
        _log_per_user(result.per_user[result.best_model], challenger_metrics)
        for protocol in SECONDARY_PROTOCOLS:
            secondary = holdout_metrics(
                protocol, result.best_model, result.best_params, interactions, items, users
            )
            mlflow.log_metrics({mlflow_metric(protocol, m): v for m, v in secondary.items()})
        final = fit_final(result.best_model, result.best_params, interactions, items, users)
        info = log_recommender(final, name="model")
        version = mlflow.register_model(info.model_uri, settings.mlflow_model_name)
        _describe(client, version, result.best_model, best, lineage)
        client.set_registered_model_alias(version.name, tracking.CHALLENGER, version.version)
        run_id = run.info.run_id

    shipped = getattr(final, "shipped_reason_", None)
    return dg.MaterializeResult(
        metadata={
            "model_version": dg.MetadataValue.text(tracking.model_version_label(version)),
            "algorithm": dg.MetadataValue.text(result.best_model),
            "params": dg.MetadataValue.json(result.best_params),
            PRIMARY_METRIC: dg.MetadataValue.float(challenger_metrics[PRIMARY_METRIC]),
            "evaluation": dg.MetadataValue.md(_markdown(result.table)),
            "validation": dg.MetadataValue.text(shipped or "no internal validation"),
            "mlflow_run": dg.MetadataValue.url(
                f"{settings.mlflow_ui_url}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
            ),
            "split": dg.MetadataValue.json(
                json.loads(json.dumps(result.split_summary, default=str))
            ),
            "data_digest": dg.MetadataValue.text(digest),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 2)),
        }
    )


@dg.asset(key=CHAMPION, group_name="ml", deps=[RECOMMENDER], kinds={"mlflow"})
def champion(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Decide whether the challenger replaces the champion; the reason is in the metadata.

    Both are scored on the same split, candidates and users: the champion's algorithm and
    hyperparameters are refit on the training part the challenger was evaluated on, and the
    users the challenger was scored on are scored again. Promotion needs the primary metric to
    beat the champion's by the configured margin, the per-user difference's 95 % interval to
    lie above zero, and no guard metric to regress; the first model needs the floor.
    """
    import mlflow

    from models.protocols import make_split

    settings = get_settings()
    started = time.perf_counter()
    client = tracking.configure_mlflow()
    challenger = tracking.version_by_alias(client, tracking.CHALLENGER)
    if challenger is None:
        raise dg.Failure("no challenger is registered: materialise ml/recommender first")
    incumbent = tracking.version_by_alias(client, tracking.CHAMPION)
    run_id = challenger.run_id
    challenger_metrics = mlflow.artifacts.load_dict(f"runs:/{run_id}/{CHALLENGER_METRICS_ARTIFACT}")
    champion_metrics: dict[str, float] | None = None
    comparison = None
    if incumbent is not None and incumbent.version == challenger.version:
        decision_promote, reason = True, "the challenger already is the champion"
    else:
        if incumbent is not None:
            with connect() as conn:
                interactions, items, users = load_training_data(conn)
            logged = client.get_run(run_id).data.params
            if logged.get(DIGEST_KEY) != data_digest(interactions, items, users):
                raise dg.Failure(
                    "the training marts changed since the challenger was evaluated; "
                    "materialise ml/recommender again so both are compared on the same data"
                )
            per_user = pl.read_parquet(
                mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{PER_USER_ARTIFACT}")
            )
            split = make_split(PROTOCOL, interactions, items, seed=RANDOM_STATE)
            algorithm, params = logged_model(client, incumbent)
            champion_metrics, champion_users = score_on_users(
                algorithm, params, split, per_user["user_id"].to_numpy(), items, users
            )
            comparison = paired_comparison(per_user, champion_users)
        decision = decide_promotion(
            challenger_metrics,
            champion_metrics,
            margin=settings.promotion_margin,
            floor=settings.promotion_floor_ndcg,
            difference_interval=(comparison.low, comparison.high) if comparison else None,
        )
        decision_promote, reason = decision.promote, decision.reason
        if decision.promote:
            client.set_registered_model_alias(
                challenger.name, tracking.CHAMPION, challenger.version
            )
    for key, value in {
        "promotion.decision": "promoted" if decision_promote else "rejected",
        "promotion.reason": reason,
    }.items():
        client.set_tag(run_id, key, value)
        client.set_model_version_tag(challenger.name, challenger.version, key, value)
    context.log.info("promotion: %s", reason)
    current = tracking.version_by_alias(client, tracking.CHAMPION)
    return dg.MaterializeResult(
        metadata={
            "promoted": dg.MetadataValue.bool(decision_promote),
            "reason": dg.MetadataValue.text(reason),
            "challenger": dg.MetadataValue.text(tracking.model_version_label(challenger)),
            "champion": dg.MetadataValue.text(
                tracking.model_version_label(current) if current else "none"
            ),
            "challenger_metrics": dg.MetadataValue.json(challenger_metrics),
            "champion_metrics": dg.MetadataValue.json(champion_metrics or {}),
            "paired_users": dg.MetadataValue.int(comparison.users if comparison else 0),
            "ndcg_difference_interval": dg.MetadataValue.json(
                [comparison.low, comparison.high] if comparison else []
            ),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 2)),
        }
    )


@dg.asset(
    key=SERVING_RECOMMENDATIONS,
    group_name="serving",
    deps=[CHAMPION, dg.AssetKey(["marts", "mart_event_popularity"]), APP_EVENT_CURATION],
    kinds={"postgres", "mlflow"},
    # A new champion, a rebuilt popularity mart or a curation change re-scores at once.
    automation_condition=dg.AutomationCondition.eager(),
)
def serving_recommendations() -> dg.MaterializeResult:
    """Score every user and every upcoming event with the champion; publish to ``serving.*``.

    Top-k events per user (only published, upcoming events that curation keeps in: no
    duplicate, rejected or low-quality listing), similar events per upcoming event,
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
        candidates = [row[0] for row in conn.execute(publish.CANDIDATES_SQL)]
    recommendations = model.recommend(
        user_ids, k=settings.recommendations_k, exclude_seen=True, candidates=candidates
    )
    if hasattr(model, "explain"):
        recommendations = model.explain(recommendations)
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
