"""The Dagster code location as a data engineer meets it in the UI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from pipelines.transform.project import prepare_manifest

    prepare_manifest()
    from pipelines.definitions import defs

    return defs


def test_every_domain_registers_itself(defs: dg.Definitions) -> None:
    groups = {
        spec.group_name
        for assets in defs.resolve_asset_graph().assets_defs
        for spec in assets.specs
        if assets.is_executable
    }
    assert {"ingest", "transform", "ml", "serving"} <= groups


def test_every_python_asset_explains_itself(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    undocumented = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
        and key.path[0] in ("raw", "app", "ml", "serving")
        and not graph.get(key).description
    ]
    assert undocumented == []


def test_every_asset_has_an_owner_a_kind_a_domain_and_its_code(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    incomplete = {
        key.to_user_string(): node
        for key in graph.get_all_asset_keys()
        if (node := graph.get(key)).is_materializable
        and not (
            node.description
            and not re.search(r"(?<!`)``(?!`)", node.description)
            and node.owners
            and all(owner.startswith("team:") for owner in node.owners)
            and node.kinds
            and node.tags.get("domain") == node.group_name
            and "dagster/code_references" in node.metadata
        )
    }
    assert sorted(incomplete) == []


def _attribute(defs: dg.Definitions, name: str, *keys: str) -> dict[str, object]:
    """``name`` of each asset of ``keys`` (``"raw/events"``), by key."""
    graph = defs.resolve_asset_graph()
    return {key: getattr(graph.get(dg.AssetKey.from_user_string(key)), name) for key in keys}


def test_owners_follow_the_domain(defs: dg.Definitions) -> None:
    owners = _attribute(defs, "owners", "raw/events", "marts/dim_events", "ml/recommender")
    assert owners == {
        "raw/events": ["team:data-engineering"],
        "marts/dim_events": ["team:analytics"],
        "ml/recommender": ["team:ml"],
    }


def test_lineage_runs_from_landing_to_serving(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["serving", "recommendations"])).parent_keys
    assert dg.AssetKey(["ml", "champion"]) in upstream
    decision = graph.get(dg.AssetKey(["ml", "champion"])).parent_keys
    assert dg.AssetKey(["ml", "recommender"]) in decision
    trainer = graph.get(dg.AssetKey(["ml", "recommender"])).parent_keys
    assert dg.AssetKey(["marts", "ml_training_interactions"]) in trainer
    fact = graph.get(dg.AssetKey(["marts", "fct_interactions"]))
    assert fact.partitions_def is not None


def test_schedules_only_where_time_is_the_reason_and_they_run(defs: dg.Definitions) -> None:
    schedules = {s.name: s for s in defs.schedules or []}
    assert set(schedules) == {
        "daily_pipeline_schedule",
        "training_job_schedule",
        "app_tables_sync_job_schedule",
    }
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())
    daily = defs.resolve_job_def("daily_pipeline")
    selected = {key.to_user_string() for key in daily.asset_layer.selected_asset_keys}
    assert "raw/interactions" in selected
    assert "staging/stg_raw__events" in selected
    assert not {"marts/dim_events", "serving/recommendations", "ml/recommender"} & selected
    sensors = {s.name: s for s in defs.sensors or []}
    assert sensors["landing_zone_sensor"].default_status == dg.DefaultSensorStatus.RUNNING


def test_quality_checks_guarding_the_marts_are_blocking(defs: dg.Definitions) -> None:
    checks = {
        spec.key.name: spec
        for assets in defs.resolve_asset_graph().assets_defs
        for spec in assets.check_specs
        if spec.key.name.endswith("_suite")
    }
    assert set(checks) == {
        "users_suite",
        "events_suite",
        "interactions_suite",
        "registrations_suite",
        "feedback_suite",
    }
    assert all(spec.blocking for spec in checks.values())


def test_every_load_carries_a_blocking_quarantine_rate_check(defs: dg.Definitions) -> None:
    checks = {
        spec.asset_key.to_user_string(): spec
        for assets in defs.resolve_asset_graph().assets_defs
        for spec in assets.check_specs
        if spec.name == "quarantine_rate"
    }
    assert set(checks) == {
        "raw/users",
        "raw/events",
        "raw/interactions",
        "raw/recommendation_feedback",
        "raw/organizer_follows",
    }
    assert all(spec.blocking for spec in checks.values())


def test_marts_scoring_and_quarantine_follow_their_upstreams(defs: dg.Definitions) -> None:
    conditions = _attribute(
        defs,
        "automation_condition",
        "marts/dim_events",
        "serving/recommendations",
        "raw/quarantine",
        "staging/stg_raw__events",
    )
    assert conditions.pop("staging/stg_raw__events") is None
    assert {key: c.get_label() for key, c in conditions.items()} == dict.fromkeys(
        conditions, "eager"
    )
    sensors = {s.name: s for s in defs.sensors or []}
    assert sensors["automation_sensor"].default_status == dg.DefaultSensorStatus.RUNNING


def test_failed_runs_are_recorded_by_default(defs: dg.Definitions) -> None:
    sensors = {s.name: s for s in defs.sensors or []}
    assert sensors["run_failure_recorder"].default_status == dg.DefaultSensorStatus.RUNNING


def test_dagster_validates_the_code_location(tmp_path: Path) -> None:
    from core.settings import REPO_ROOT

    dagster = str(Path(sys.executable).with_name("dagster"))
    result = subprocess.run(
        [dagster, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        # The CLI wants an existing instance folder; validation writes nothing to it.
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
