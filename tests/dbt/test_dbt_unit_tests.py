"""dbt's own unit tests (``unit_tests:`` in the marts' YAML) run against the real PostgreSQL."""

from __future__ import annotations

import marts_dataset as ds
import pytest

pytestmark = pytest.mark.integration


def test_dbt_unit_tests_pass(database_url: str) -> None:
    # Unit tests read the column types of their inputs from the database: build the models
    # first, on whatever data the session holds (their data tests belong to other tests).
    ds.rebuild_marts()

    result = ds.run_dbt("test", "--select", "test_type:unit")

    assert "PASS=0" not in result.stdout
    assert "ERROR=0" in result.stdout
    for test in (
        "mart_recommendation_performance::recommendation_performance_counts_pairs_once_per_version",
        "mart_event_funnel::event_funnel_counts_each_stage_and_its_conversion",
        "mart_user_retention::user_retention_counts_active_users_per_cohort_week",
    ):
        assert f"PASS {test}" in result.stdout, result.stdout
