"""The curation assets against the real PostgreSQL and MLflow, on a small planted catalogue.

Planted listings are loaded into ``raw.events`` as the ingest leaves them (an empty cell for a
missing description or category); the assets and their checks then run through Dagster, and
what they wrote is compared with the planted truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import psycopg
import pytest

from pipelines.curation import assets, checks, quality
from pipelines.curation.evaluation import pairwise_scores
from pipelines.ingest.loading import copy_into
from pipelines.synthetic import GenerationSpec
from pipelines.synthetic.listings import JUNK_KINDS, PlantedListings, plant_listings

pytestmark = pytest.mark.integration

SPEC = GenerationSpec(users=200, events=500, interactions=0, now=datetime(2026, 12, 2, tzinfo=UTC))
CURATION = [
    assets.listing_clusters,
    assets.category_model,
    assets.event_categories,
    assets.quality_flags,
    *checks.CHECKS,
]


def _load_raw_events(conn: psycopg.Connection, planted: PlantedListings) -> None:
    columns = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'events'"
        )
    }
    rows = planted.listings.with_columns(
        pl.col("description").fill_null(""),
        pl.col("category").fill_null(""),
        pl.col("price").fill_null(0.0),
        pl.format("landing/events/{}.jsonl", "feed").alias("_source"),
    )
    conn.execute("TRUNCATE raw.events")
    copy_into(
        conn,
        psycopg.sql.Identifier("raw", "events"),
        rows.select(c for c in rows.columns if c in columns),
    )


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    events = result.get_asset_materialization_events()
    [materialization] = [e.materialization for e in events if e.asset_key == key]
    return {name: value.value for name, value in materialization.metadata.items()}


def _frame(conn: psycopg.Connection, query: str) -> pl.DataFrame:
    cursor = conn.execute(query)
    names = [d.name for d in cursor.description or []]
    return pl.DataFrame(cursor.fetchall(), schema=names, orient="row")


@pytest.fixture(scope="module")
def curated(database_url: str) -> Iterator[tuple[PlantedListings, dg.ExecuteInProcessResult]]:
    planted = plant_listings(SPEC)
    with psycopg.connect(database_url) as conn:
        _load_raw_events(conn, planted)
    result = dg.materialize(CURATION, raise_on_error=False)
    yield planted, result
    with psycopg.connect(database_url) as conn:
        conn.execute("TRUNCATE raw.events")


def test_every_asset_and_check_succeeds(curated) -> None:
    _, result = curated
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {
        spec.name for check in checks.CHECKS for spec in check.check_specs
    }
    assert all(e.passed for e in evaluations)


def test_duplicates_merge_into_one_canonical_event(curated, database_url: str) -> None:
    planted, _ = curated
    with psycopg.connect(database_url) as conn:
        clusters = _frame(conn, "SELECT * FROM curation.listing_clusters ORDER BY event_id")
        links = _frame(conn, "SELECT * FROM curation.listing_links")
    assert clusters.height == planted.listings.height
    score = pairwise_scores(clusters, planted.truth)
    assert score.precision >= 0.97
    assert score.recall >= 0.95
    truth = planted.truth.join(clusters, on="event_id")
    copies = truth.filter(pl.col("kind") == "duplicate")
    originals = truth.filter(pl.col("kind") != "duplicate").select(
        "true_event_id", pl.col("canonical_id").alias("original_canonical")
    )
    placed = copies.join(originals, on="true_event_id")
    assert (placed["canonical_id"] == placed["original_canonical"]).mean() >= 0.95
    # The canonical listing of a cluster is its earliest created one: the original.
    canonical_kinds = truth.filter(pl.col("is_canonical"))["kind"].unique().to_list()
    assert "duplicate" not in canonical_kinds
    assert links.height >= copies.height
    assert (links["match_probability"] >= 0.5).all()


def test_hard_negatives_stay_apart(curated, database_url: str) -> None:
    planted, _ = curated
    with psycopg.connect(database_url) as conn:
        clusters = _frame(conn, "SELECT event_id, canonical_id FROM curation.listing_clusters")
    rows = planted.truth.join(clusters, on="event_id")
    sessions = rows.filter(pl.col("kind") == "same_day_session")
    assert sessions.height > 0
    merged = rows.group_by("canonical_id").agg(pl.col("true_event_id").n_unique().alias("n"))
    wrongly = merged.filter(pl.col("n") > 1)["canonical_id"]
    assert not sessions["canonical_id"].is_in(wrongly.implode()).any()


def test_every_planted_junk_listing_is_flagged_with_evidence(curated, database_url: str) -> None:
    planted, _ = curated
    with psycopg.connect(database_url) as conn:
        flags = _frame(conn, "SELECT event_id, flag, evidence FROM curation.quality_flags")
        scores = _frame(conn, "SELECT * FROM curation.listing_quality")
    expected = planted.truth.select("event_id", pl.col("flags").alias("flag")).explode("flag")
    expected = expected.drop_nulls().filter(pl.col("flag").is_in(JUNK_KINDS))
    assert set(expected["flag"]) == set(JUNK_KINDS)
    found = expected.join(flags, on=["event_id", "flag"], how="left")
    assert found["evidence"].null_count() == 0
    assert (found["evidence"].str.len_chars() > 0).all()
    content = flags.filter(pl.col("flag").is_in(JUNK_KINDS))
    assert content.join(expected, on=["event_id", "flag"], how="anti").height == 0
    assert scores.height == planted.listings.height
    past = expected.filter(pl.col("flag") == "start_in_past")["event_id"]
    assert scores.filter(pl.col("event_id").is_in(past.implode()))["low_quality"].all()


def test_every_listing_gets_a_category_and_predictions_say_how_sure(
    curated, database_url: str
) -> None:
    planted, _ = curated
    with psycopg.connect(database_url) as conn:
        resolved = _frame(conn, "SELECT * FROM curation.event_categories ORDER BY event_id")
    assert resolved.height == planted.listings.height
    assert resolved["category"].null_count() == 0
    rows = resolved.join(planted.truth, on="event_id")
    from_feed = rows.filter(pl.col("category_given"))
    assert (from_feed["source"] == "feed").all()
    assert (from_feed["category"] == from_feed["true_category"]).all()
    inferred = rows.filter(~pl.col("category_given") & pl.col("true_category").is_not_null())
    assert set(inferred["source"]) <= {"cluster", "model"}
    assert (inferred["category"] == inferred["true_category"]).mean() >= 0.8
    predicted = rows.filter(pl.col("source") == "model")
    assert predicted.height > 0
    assert predicted["model_version"].str.starts_with("event-category-classifier/").all()
    assert (predicted["low_confidence"] == (predicted["confidence"] < 0.6)).all()


def test_the_classifier_is_registered_as_champion(curated) -> None:
    from pipelines.ml import tracking

    _, result = curated
    client = tracking.configure_mlflow(assets.EXPERIMENT_NAME)
    champion = client.get_model_version_by_alias(assets.CATEGORY_MODEL_NAME, tracking.CHAMPION)
    metadata = _metadata(result, assets.CATEGORY_MODEL)
    assert metadata["model_version"] == tracking.model_version_label(champion)
    assert metadata["macro_f1"] >= assets.MIN_MACRO_F1


def test_figures_are_materialisation_metadata(curated) -> None:
    _, result = curated
    clusters = _metadata(result, assets.LISTING_CLUSTERS)
    assert 0.05 < clusters["merged_share"] < 0.5
    assert clusters["listings"] == clusters["canonical_events"] + clusters["merged_listings"]
    flags = _metadata(result, assets.QUALITY_FLAGS)
    assert 0 < flags["flagged_share"] < 0.3
    assert set(flags["flags"]) == set(quality.FLAG_NAMES)
    categories = _metadata(result, assets.EVENT_CATEGORIES)
    assert 0 <= categories["low_confidence_share"] < 0.3
    assert categories["predicted"] > 0


def test_canonical_ids_are_stable_when_the_batch_is_curated_again(
    curated, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        before = _frame(conn, "SELECT event_id, canonical_id FROM curation.listing_clusters")
    assert dg.materialize([assets.listing_clusters]).success
    with psycopg.connect(database_url) as conn:
        after = _frame(conn, "SELECT event_id, canonical_id FROM curation.listing_clusters")
    assert after.sort("event_id").equals(before.sort("event_id"))


def test_dbt_reads_the_curation_as_a_source(curated, database_url: str, tmp_path) -> None:
    from pipelines.transform.project import run_dbt

    planted, _ = curated
    run_dbt(
        [
            "build",
            "--select",
            "source:curation stg_curation__listings",
            "--target-path",
            str(tmp_path),
        ]
    )
    with psycopg.connect(database_url) as conn:
        staged = _frame(conn, "SELECT * FROM staging.stg_curation__listings")
        clusters = _frame(conn, "SELECT event_id, canonical_id FROM curation.listing_clusters")
    assert staged.height == planted.listings.height
    assert staged["category"].null_count() == 0
    joined = staged.join(clusters, on="event_id", suffix="_curated")
    assert (joined["canonical_id"] == joined["canonical_id_curated"]).all()
    past = planted.truth.filter(pl.col("flags").list.contains("start_in_past"))["event_id"]
    flagged = staged.filter(pl.col("event_id").is_in(past.implode()))
    assert flagged["low_quality"].all()
    assert flagged["quality_flags"].list.contains("start_in_past").all()


@pytest.fixture(scope="module")
def published(curated, database_url: str) -> Iterator[PlantedListings]:
    """The curated listings published into ``app.*`` as the daily run does."""
    from pipelines.ingest.assets import app_catalogue

    planted, _ = curated
    assert dg.materialize([app_catalogue, assets.app_event_curation]).success
    yield planted
    ids = planted.listings["event_id"].to_list()
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM app.curation_decisions WHERE event_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM app.events WHERE id = ANY(%s)", (ids,))


def _decide(conn: psycopg.Connection, action: str, event_id: int, other: int | None = None) -> None:
    conn.execute(
        "INSERT INTO app.curation_decisions (action, event_id, other_event_id) VALUES (%s, %s, %s)",
        (action, event_id, other),
    )


def test_the_api_tables_show_one_listing_per_real_event(published, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        shown = _frame(conn, "SELECT * FROM app.event_curation")
        clusters = _frame(conn, "SELECT event_id, canonical_id FROM curation.listing_clusters")
        queue = _frame(conn, "SELECT * FROM app.curation_queue")
    assert shown.height == published.listings.height
    joined = shown.join(clusters, on="event_id", suffix="_batch")
    assert (joined["canonical_id"] == joined["canonical_id_batch"]).all()
    truth = published.truth.join(shown, on="event_id")
    junk = truth.filter(pl.col("flags").list.contains("start_in_past"))
    assert junk["low_quality"].all()
    assert not shown["rejected"].any()
    assert set(queue["kind"]) <= {"low_quality", "uncertain_duplicate", "low_confidence_category"}
    low = queue.filter(pl.col("kind") == "low_quality")
    assert set(low["event_id"]) == set(shown.filter(pl.col("low_quality"))["event_id"])
    assert low["evidence"].str.contains(": ").all()
    pairs = queue.filter(pl.col("kind") == "uncertain_duplicate")
    assert pairs["other_event_id"].null_count() == 0
    assert pairs["score"].is_between(0.5, assets.UNCERTAIN_MATCH[1], closed="left").all()


def test_admin_decisions_win_over_the_next_batch(published, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        shown = _frame(conn, "SELECT * FROM app.event_curation")
    duplicate = shown.filter(pl.col("event_id") != pl.col("canonical_id")).row(0, named=True)
    low = shown.filter(pl.col("low_quality")).row(0, named=True)
    fine = shown.filter(
        ~pl.col("low_quality")
        & (pl.col("event_id") == pl.col("canonical_id"))
        & ~pl.col("event_id").is_in([duplicate["canonical_id"]])
    ).row(0, named=True)
    with psycopg.connect(database_url) as conn:
        _decide(conn, "split", duplicate["event_id"])
        _decide(conn, "accept", low["event_id"])
        _decide(conn, "reject", fine["event_id"])
    batch = [assets.listing_clusters, assets.quality_flags, assets.app_event_curation]
    assert dg.materialize(batch).success
    with psycopg.connect(database_url) as conn:
        after = {
            row[0]: row
            for row in conn.execute(
                "SELECT event_id, canonical_id, low_quality, rejected FROM app.event_curation"
            )
        }
        queued = {
            (row[0], row[1])
            for row in conn.execute("SELECT kind, event_id FROM app.curation_queue")
        }
    assert after[duplicate["event_id"]][1] == duplicate["event_id"]
    assert after[low["event_id"]][2] is False
    assert after[fine["event_id"]][2:] == (True, True)
    assert ("low_quality", low["event_id"]) not in queued
    assert ("low_quality", fine["event_id"]) not in queued
