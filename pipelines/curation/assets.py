"""Curation assets: landed listings (``raw.events``) into canonical events, categories and flags.

They run after ingest and before the marts. Each asset reads ``raw.events``, calls the pure
functions of its module (:mod:`~pipelines.curation.linkage`, :mod:`~pipelines.curation.categories`,
:mod:`~pipelines.curation.quality`) and replaces its ``curation.*`` tables in one transaction, so
a failed run leaves the previous curation in place. The figures an operator watches (share of
listings merged, flagged, categorised with low confidence) are materialisation metadata, and
the asset checks guard the invariants the API and the marts rely on.
"""

import time

import dagster as dg
import polars as pl

from core.db import connect
from core.settings import get_settings
from pipelines.curation import categories, decisions, linkage, quality, store
from pipelines.kernel.keys import APP_CATALOGUE, RAW_EVENTS
from pipelines.ml import tracking

LISTING_CLUSTERS = dg.AssetKey(["curation", "listing_clusters"])
CATEGORY_MODEL = dg.AssetKey(["curation", "category_model"])
EVENT_CATEGORIES = dg.AssetKey(["curation", "event_categories"])
QUALITY_FLAGS = dg.AssetKey(["curation", "quality_flags"])
APP_EVENT_CURATION = dg.AssetKey(["app", "event_curation"])

EXPERIMENT_NAME = "event-curation"
CATEGORY_MODEL_NAME = "event-category-classifier"
# A first classifier must beat this on the hold-out to be used at all.
MIN_MACRO_F1 = 0.5
# Shares past which a batch looks wrong (a feed's bug, a broken model): warnings, not failures.
MAX_MERGED_SHARE = 0.5
MAX_FLAGGED_SHARE = 0.3
MAX_LOW_CONFIDENCE_SHARE = 0.3
# Duplicate pairs an admin should look at: scored this likely, whether merged or not.
UNCERTAIN_MATCH = (0.5, 0.97)

_GROUP = "curation"


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _preview(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    if frame.is_empty():
        return dg.MetadataValue.md("none")
    shown = frame.head(rows).with_columns(pl.col(pl.List(pl.String)).list.join(", "))
    return dg.MetadataValue.md(shown.to_pandas().to_markdown(index=False))


def _read_clusters() -> pl.DataFrame:
    with connect() as conn:
        return store.read_clusters(conn)


@dg.asset(key=LISTING_CLUSTERS, group_name=_GROUP, deps=[RAW_EVENTS], kinds={"duckdb", "postgres"})
def listing_clusters(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Every landed listing mapped to one canonical event: duplicates across feeds merged.

    Splink links the listings on DuckDB (blocking on start window and place; comparisons of
    title, description, organiser, venue, start and coordinates) and the links at or above the
    match threshold are clustered, after admins' decisions (a split listing keeps no link, a
    merge links two listings whatever they scored). Writes ``curation.listing_clusters`` (one
    row per listing) and ``curation.listing_links`` (the scored pairs, for review).
    """
    started = time.perf_counter()
    with connect() as conn:
        listings = store.read_listings(conn)
        admin = store.read_decisions(conn)
    result = linkage.link_listings(listings)
    decided = decisions.apply_to_links(result.pairs, admin)
    clusters = (
        linkage.cluster_frame(listings, decided)
        .join(listings.select("event_id", pl.col("_source").alias("source_file")), on="event_id")
        .with_columns(pl.lit(context.run_id).alias("run_id"))
    )
    links = result.pairs.with_columns(pl.lit(context.run_id).alias("run_id"))
    with connect() as conn:
        store.replace_table(conn, "listing_clusters", clusters)
        store.replace_table(conn, "listing_links", links)
    merged = clusters.filter(~pl.col("is_canonical")).height
    canonical = clusters.filter(pl.col("is_canonical")).height
    biggest = clusters.sort("cluster_size", descending=True).head(10)
    return dg.MaterializeResult(
        metadata={
            "listings": dg.MetadataValue.int(listings.height),
            "canonical_events": dg.MetadataValue.int(canonical),
            "merged_listings": dg.MetadataValue.int(merged),
            "merged_share": dg.MetadataValue.float(_share(merged, listings.height)),
            "candidate_pairs": dg.MetadataValue.int(result.candidate_pairs),
            "links_scored": dg.MetadataValue.int(result.pairs.height),
            "match_threshold": dg.MetadataValue.float(linkage.MATCH_PROBABILITY),
            "admin_decisions": dg.MetadataValue.int(
                admin.filter(pl.col("action").is_in(decisions.CLUSTERING)).height
            ),
            "dagster/row_count": dg.MetadataValue.int(clusters.height),
            "largest_clusters": _preview(biggest.drop("run_id", "source_file")),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@dg.asset(
    key=CATEGORY_MODEL, group_name=_GROUP, deps=[LISTING_CLUSTERS], kinds={"scikit-learn", "mlflow"}
)
def category_model(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """The category classifier, trained on the listings whose feed gave a category.

    Evaluated on held-out canonical events (macro-F1, accuracy at the confidence the platform
    acts on), then refitted on all of them, logged to MLflow (experiment ``event-curation``) and
    registered as ``event-category-classifier``; the new version becomes ``@champion`` when its
    hold-out macro-F1 reaches the floor.
    """
    import mlflow
    import sklearn

    settings = get_settings()
    started = time.perf_counter()
    with connect() as conn:
        listings = store.read_listings(conn)
    clusters = _read_clusters()
    labelled = listings.filter(categories.has_category(listings)).with_columns(
        pl.col("category").str.strip_chars()
    )
    if labelled["category"].n_unique() < 2:
        raise dg.Failure("fewer than two categories among the listings: nothing to learn")
    groups = labelled.join(clusters, on="event_id", how="left").select(
        pl.coalesce("canonical_id", "event_id")
    )
    evaluation = categories.evaluate_classifier(labelled, groups.to_series())
    model = categories.train_classifier(labelled)
    client = tracking.configure_mlflow(EXPERIMENT_NAME)
    promote = evaluation.macro_f1 >= MIN_MACRO_F1
    with mlflow.start_run(run_name=f"categories-{context.run_id[:8]}") as run:
        mlflow.log_params(
            {
                "vectoriser": "tfidf word 1-2 grams, sublinear tf, min_df 2",
                "classifier": "logistic regression, C=10",
                "min_confidence": categories.MIN_CONFIDENCE,
                "held_out_share": categories.HELD_OUT_SHARE,
                "data.listings": listings.height,
                "data.labelled": labelled.height,
                "data.classes": evaluation.classes,
            }
        )
        mlflow.log_metrics(evaluation.as_metrics())
        info = mlflow.sklearn.log_model(
            model, name="model", pip_requirements=[f"scikit-learn=={sklearn.__version__}"]
        )
        version = mlflow.register_model(info.model_uri, CATEGORY_MODEL_NAME)
        if promote:
            client.set_registered_model_alias(version.name, tracking.CHAMPION, version.version)
        run_id = run.info.run_id
    return dg.MaterializeResult(
        metadata={
            "model_version": dg.MetadataValue.text(tracking.model_version_label(version)),
            "promoted": dg.MetadataValue.bool(promote),
            **{k: dg.MetadataValue.float(round(v, 4)) for k, v in evaluation.as_metrics().items()},
            "train_rows": dg.MetadataValue.int(evaluation.train_rows),
            "test_rows": dg.MetadataValue.int(evaluation.test_rows),
            "mlflow_run": dg.MetadataValue.url(
                f"{settings.mlflow_ui_url}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
            ),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@dg.asset(key=EVENT_CATEGORIES, group_name=_GROUP, deps=[CATEGORY_MODEL], kinds={"postgres"})
def event_categories(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """A category for every listing: the feed's, another feed's for the same event, or the
    champion classifier's prediction with its confidence (low confidence marked as such).

    Writes ``curation.event_categories``.
    """
    import mlflow

    started = time.perf_counter()
    client = tracking.configure_mlflow(EXPERIMENT_NAME)
    try:
        champion = client.get_model_version_by_alias(CATEGORY_MODEL_NAME, tracking.CHAMPION)
    except mlflow.exceptions.MlflowException as exc:
        raise dg.Failure("no category classifier is champion yet: run category_model") from exc
    with connect() as conn:
        listings = store.read_listings(conn)
    clusters = _read_clusters()
    missing = listings.filter(~categories.has_category(listings))
    model = mlflow.sklearn.load_model(f"models:/{CATEGORY_MODEL_NAME}@{tracking.CHAMPION}")
    label = tracking.model_version_label(champion)
    predicted = categories.predict_categories(model, missing).with_columns(
        pl.lit(label).alias("model_version")
    )
    resolved = categories.resolve_categories(listings, clusters, predicted).with_columns(
        pl.lit(context.run_id).alias("run_id")
    )
    with connect() as conn:
        store.replace_table(conn, "event_categories", resolved)
    by_model = resolved.filter(pl.col("source") == "model")
    low = by_model.filter(pl.col("low_confidence")).height
    counts = resolved.group_by("source").len().sort("source")
    return dg.MaterializeResult(
        metadata={
            "listings": dg.MetadataValue.int(resolved.height),
            "by_source": dg.MetadataValue.json(dict(counts.iter_rows())),
            "predicted": dg.MetadataValue.int(by_model.height),
            "low_confidence": dg.MetadataValue.int(low),
            "low_confidence_share": dg.MetadataValue.float(_share(low, resolved.height)),
            "min_confidence": dg.MetadataValue.float(categories.MIN_CONFIDENCE),
            "model_version": dg.MetadataValue.text(label),
            "dagster/row_count": dg.MetadataValue.int(resolved.height),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@dg.asset(key=QUALITY_FLAGS, group_name=_GROUP, deps=[LISTING_CLUSTERS], kinds={"postgres"})
def quality_flags(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Quality flags of every listing with their evidence, and its quality score.

    Flags: missing or short description, all caps, repeated punctuation, link farm, impossible
    capacity or price, start before it was listed, duplicate of another listing. An admin's
    accept or reject overrides the score's verdict. Writes ``curation.quality_flags`` (one row
    per raised flag) and ``curation.listing_quality``.
    """
    started = time.perf_counter()
    with connect() as conn:
        listings = store.read_listings(conn)
        admin = store.read_decisions(conn)
    clusters = _read_clusters()
    flags = quality.quality_flags(listings, clusters)
    scores = decisions.apply_to_quality(quality.quality_scores(listings["event_id"], flags), admin)
    with connect() as conn:
        store.replace_table(
            conn, "quality_flags", flags.with_columns(pl.lit(context.run_id).alias("run_id"))
        )
        store.replace_table(
            conn, "listing_quality", scores.with_columns(pl.lit(context.run_id).alias("run_id"))
        )
    content = flags.filter(pl.col("flag") != "duplicate_listing")
    flagged = content["event_id"].n_unique()
    low = scores.filter(pl.col("low_quality")).height
    per_flag = {name: 0 for name in quality.FLAG_NAMES}
    per_flag.update(dict(flags.group_by("flag").len().iter_rows()))
    return dg.MaterializeResult(
        metadata={
            "listings": dg.MetadataValue.int(listings.height),
            "flagged_listings": dg.MetadataValue.int(flagged),
            "flagged_share": dg.MetadataValue.float(_share(flagged, listings.height)),
            "low_quality": dg.MetadataValue.int(low),
            "low_quality_share": dg.MetadataValue.float(_share(low, listings.height)),
            "rejected_by_admins": dg.MetadataValue.int(scores["rejected"].sum()),
            "flags": dg.MetadataValue.json(per_flag),
            "examples": _preview(content.unique("flag", keep="first").sort("flag")),
            "dagster/row_count": dg.MetadataValue.int(flags.height),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@dg.asset(
    key=APP_EVENT_CURATION,
    group_name=_GROUP,
    deps=[LISTING_CLUSTERS, QUALITY_FLAGS, EVENT_CATEGORIES, APP_CATALOGUE],
    kinds={"postgres"},
)
def app_event_curation() -> dg.MaterializeResult:
    """Curation where it takes effect: ``app.event_curation`` and ``app.curation_queue``.

    The API lists and searches canonical, unrejected listings only (the others are reachable by
    id and named as the canonical event's sources), demotes low quality in search and never
    recommends it; admins review the queue (low quality, uncertain duplicates, low-confidence
    categories) at ``GET /api/v1/admin/curation``. Replaced in one transaction.
    """
    started = time.perf_counter()
    with connect() as conn:
        counts = store.publish_to_app(
            conn, threshold=linkage.MATCH_PROBABILITY, uncertain=UNCERTAIN_MATCH
        )
    return dg.MaterializeResult(
        metadata={
            **{name: dg.MetadataValue.int(count) for name, count in sorted(counts.items())},
            "dagster/row_count": dg.MetadataValue.int(counts["event_curation"]),
            "seconds": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )
