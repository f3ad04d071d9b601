"""How the dbt assets hand a daily partition to dbt, and start it from the prepared parse."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipelines.transform.project import (
    DBT_PROJECT_DIR,
    partial_parse_env,
    partition_env,
    run_dbt,
    scoped_environ,
)


def test_partition_env_names_the_window_the_dbt_project_reads() -> None:
    window = partition_env("2021-06-16", "2021-06-17")

    assert window == {"DBT_INTERACTIONS_FROM": "2021-06-16", "DBT_INTERACTIONS_TO": "2021-06-17"}
    macro = (DBT_PROJECT_DIR / "macros" / "interactions_window.sql").read_text()
    assert all(name in macro for name in window)


def test_scoped_environ_sets_then_restores_and_never_leaks_a_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBT_INTERACTIONS_FROM", "2021-06-01")
    monkeypatch.setenv("DBT_PG_PORT", "5432")

    with scoped_environ({"DBT_PG_PORT": "6543"}):
        inside = {name: os.environ.get(name) for name in ("DBT_INTERACTIONS_FROM", "DBT_PG_PORT")}

    assert inside == {"DBT_INTERACTIONS_FROM": None, "DBT_PG_PORT": "6543"}
    assert os.environ["DBT_INTERACTIONS_FROM"] == "2021-06-01"
    assert os.environ["DBT_PG_PORT"] == "5432"


def test_a_partition_run_starts_from_the_prepared_parse_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared, run = tmp_path / "prepared", tmp_path / "run"
    run_dbt(["parse", "--target-path", str(prepared)])
    for name, value in {
        **partial_parse_env(prepared),
        **partition_env("2021-06-16", "2021-06-17"),
    }.items():
        monkeypatch.setenv(name, value)

    run_dbt(["parse", "--target-path", str(run)])

    performance = json.loads((run / "perf_info.json").read_text())
    assert performance["is_partial_parse_enabled"]
    assert performance["parsed_path_count"] == 0
