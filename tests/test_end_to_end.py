"""The whole platform on a small generated data set: files → raw → marts → models → API.

Runs the real pipeline (Dagster, Great Expectations, dbt, scikit-learn/numpy models, MLflow on
PostgreSQL) against the test server, then asks the real app over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import dagster as dg
import httpx
import psycopg
import pytest

from core.settings import get_settings

pytestmark = pytest.mark.integration

USERS, EVENTS, INTERACTIONS = 400, 150, 30_000


def _counts(url: str) -> dict[str, int]:
    tables = [
        "raw.users",
        "raw.events",
        "raw.interactions",
        "raw.quarantine",
        "raw.recommendation_feedback",
        "app.users",
        "app.events",
        "marts.dim_users",
        "marts.dim_events",
        "marts.fct_interactions",
        "marts.mart_event_popularity",
        "marts.fct_recommendation_feedback",
        "marts.fct_organizer_follows",
        "marts.mart_recommendation_performance",
    ]
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


@pytest.fixture(scope="module")
def pipeline_runs(database_url: str) -> list[dict[str, int]]:
    """Generate a landing zone, then run the whole graph twice; row counts after each run."""
    from pipelines.bootstrap import materialize_everything
    from pipelines.synthetic import GenerationSpec, generate
    from pipelines.transform.project import prepare_manifest

    settings = get_settings()
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Other modules share the database: start from nothing but the migrated schema.
        conn.execute(
            "TRUNCATE raw.interactions, raw.users, raw.events, raw.registrations, "
            "raw.recommendation_feedback, raw.organizer_follows, raw.quarantine, raw.landed_files, "
            "raw.watermarks, "
            "app.recommendation_feedback, app.interactions, app.registrations, app.events, "
            "app.users CASCADE"
        )
        conn.execute("DROP SCHEMA IF EXISTS marts CASCADE")
    summary = generate(
        settings.landing_dir,
        GenerationSpec(users=USERS, events=EVENTS, interactions=INTERACTIONS, seed=7, days=60),
    )
    prepare_manifest()
    counts = []
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            result = materialize_everything(instance)
            assert result.success, [
                e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"
            ]
            generated = {
                "generated_feedback": summary.feedback,
                "generated_follows": summary.files["organizer_follows/follows.csv"],
            }
            counts.append({**_counts(database_url), **generated})
    return counts


def test_marts_hold_the_generated_users_and_events(pipeline_runs: list[dict[str, int]]) -> None:
    first = pipeline_runs[0]
    assert first["raw.users"] == USERS
    assert first["raw.events"] == EVENTS
    assert first["marts.dim_users"] == USERS
    assert first["marts.dim_events"] == EVENTS
    assert first["app.events"] == EVENTS
    # Every generated interaction is accounted for: loaded, or quarantined, or a duplicate.
    assert first["marts.fct_interactions"] == first["raw.interactions"]
    assert 0.9 * INTERACTIONS <= first["raw.interactions"] <= INTERACTIONS


def test_the_widget_log_reaches_the_marts_and_the_notebook_compares_versions(
    pipeline_runs: list[dict[str, int]],
) -> None:
    from tests.notebook_runner import NOTEBOOKS_DIR, execute, outputs, printed

    first = pipeline_runs[0]
    assert first["raw.recommendation_feedback"] == first["generated_feedback"] > 0
    assert first["marts.fct_recommendation_feedback"] == first["generated_feedback"]
    # The three versions, and the recommended clicks whose client did not name one.
    assert first["marts.mart_recommendation_performance"] == 4

    notebook = execute(NOTEBOOKS_DIR / "recommendation_performance.py")
    assert outputs(notebook, "error") == []
    text = printed(notebook)
    assert "No recommendation" not in text
    assert "No positioned feedback" not in text
    # The comparison table: a row per version, each with a rate and its interval.
    comparison = text[text.index("ctr_low_95") :].splitlines()[1:4]
    assert [row.split()[0] for row in comparison] == ["popularity-v1", "item-knn-v2", "als-v3"]
    rates = [float(row.split()[2]) for row in comparison]
    assert all(0 < rate < 1 for rate in rates)


def test_the_generated_follows_reach_the_api_and_the_marts(
    pipeline_runs: list[dict[str, int]],
) -> None:
    first = pipeline_runs[0]
    assert first["marts.fct_organizer_follows"] == first["generated_follows"] > 0


def test_running_twice_changes_nothing(pipeline_runs: list[dict[str, int]]) -> None:
    assert pipeline_runs[0] == pipeline_runs[1]


def test_registry_has_a_champion(pipeline_runs: list[dict[str, int]]) -> None:
    from pipelines.ml import tracking

    client = tracking.configure_mlflow()
    champion = tracking.version_by_alias(client, tracking.CHAMPION)
    assert champion is not None
    decision = client.get_model_version(champion.name, champion.version).tags
    assert decision["promotion.decision"] == "promoted"


def test_the_registry_describes_the_model_its_data_and_every_candidate(
    pipeline_runs: list[dict[str, int]],
) -> None:
    import mlflow

    from pipelines.ml import tracking
    from pipelines.ml.evaluation import PROTOCOL

    client = tracking.configure_mlflow()
    champion = tracking.version_by_alias(client, tracking.CHAMPION)
    assert "Event recommendations" in client.get_registered_model(champion.name).description
    version = client.get_model_version(champion.name, champion.version)
    assert "nDCG@10" in version.description
    run = client.get_run(version.run_id)
    datasets = {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}
    assert set(datasets) == {
        "marts.ml_training_interactions",
        "marts.ml_event_features",
        "marts.ml_user_features",
    }
    assert all(datasets.values())
    table = mlflow.load_table(f"evaluation/{PROTOCOL}.json", run_ids=[run.info.run_id])
    # Every candidate and every simple reference has its row, the champion's algorithm among them.
    assert {"model", "ndcg@k"} <= set(table.columns)
    assert len(table) >= 3
    assert table["ndcg@k"].notna().all()


@pytest.fixture
async def api(pipeline_runs: list[dict[str, int]]) -> AsyncIterator[httpx.AsyncClient]:
    from serving.app import create_app

    app = create_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://platform"
        ) as client,
    ):
        yield client


@pytest.mark.anyio
async def test_known_user_gets_recommendations_from_the_champion(
    api: httpx.AsyncClient, database_url: str
) -> None:
    from pipelines.ml import tracking

    champion = tracking.version_by_alias(tracking.configure_mlflow(), tracking.CHAMPION)
    label = tracking.model_version_label(champion)
    with psycopg.connect(database_url) as conn:
        user_id = conn.execute(
            "SELECT user_id FROM serving.user_recommendations ORDER BY user_id LIMIT 1"
        ).fetchone()[0]
        upcoming = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM app.events WHERE status = 'published' AND starts_at > now()"
            )
        }
    token = get_settings().service_token.get_secret_value()
    response = await api.get(
        "/api/v1/recommendations/events",
        params={"user_id": user_id, "limit": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    recommendations = body["recommendations"]
    assert 1 <= len(recommendations) <= 5
    # The champion's picks, and the events of organisers the user follows (generated follows).
    versions = {r["model_version"] for r in recommendations}
    assert label in versions
    assert versions <= {label, "follows"}
    assert {r["id"] for r in recommendations} <= upcoming


@pytest.mark.anyio
async def test_user_without_a_set_gets_popular_fallback(
    api: httpx.AsyncClient, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A user signed up after the batch ran (an unknown user id is a 404).
        newcomer = conn.execute(
            """INSERT INTO app.users (id, email, name)
               VALUES (10000000, 'newcomer@example.com', 'N') RETURNING id"""
        ).fetchone()[0]
        popular = [
            r[0]
            for r in conn.execute(
                "SELECT event_id FROM serving.popular_events WHERE scope = 'global' ORDER BY rank"
            )
        ]
    token = get_settings().service_token.get_secret_value()
    try:
        response = await api.get(
            "/api/v1/recommendations/events",
            params={"user_id": newcomer, "limit": 5},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM app.users WHERE id = %s", (newcomer,))
    assert response.status_code == 200, response.text
    ids = [r["id"] for r in response.json()["recommendations"]]
    assert ids
    assert set(ids) <= set(popular)


def test_published_recommendations_explain_themselves(
    pipeline_runs: list[dict[str, int]], database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        reasons = dict(
            conn.execute(
                "SELECT split_part(reason, ' ', 1) || ' ' || split_part(reason, ' ', 2), count(*) "
                "FROM serving.user_recommendations GROUP BY 1"
            ).fetchall()
        )
        wrong_category = conn.execute(
            """SELECT count(*) FROM serving.user_recommendations AS r
               JOIN app.events AS e ON e.id = r.event_id
               WHERE r.reason LIKE 'Because you attended %'
                 AND NOT EXISTS (
                     SELECT 1 FROM raw.interactions AS i JOIN app.events AS p ON p.id = i.event_id
                     WHERE i.user_id = r.user_id AND i.type = 'attend'
                       AND p.category = e.category
                       AND r.reason = 'Because you attended ' || p.title)"""
        ).fetchone()[0]
    assert None not in reasons
    # Reasons from the user's own past events: the fallback's "Because you attended ...", or the
    # signal that scored ("Because you went to", "From the organiser of", "Like ...", "At ...").
    from_past_events = ("Because you", "From the", "At", "Like")
    assert sum(n for reason, n in reasons.items() if reason.startswith(from_past_events)) > 0
    assert wrong_category == 0
