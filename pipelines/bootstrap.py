"""Materialise the whole asset graph once, recorded in the Dagster instance (``make run``).

Every landed day of interactions is loaded in one backfill-style run together with everything
downstream (checks, dbt, training, scoring), so the UI shows the run and its history afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from core.settings import get_settings
from pipelines.ingest import landing

INSTANCE_YAML = """\
storage:
  postgres:
    postgres_url: "{url}"
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
"""


def write_instance_config(dagster_home: Path, database_url: str) -> Path:
    """Write ``dagster.yaml``: run/event storage in PostgreSQL (psycopg2 URL, see DESIGN)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(INSTANCE_YAML.format(url=database_url))
    return path


def partition_range_tags(days: list) -> dict[str, str]:
    """Run tags that make a single run cover every landed day (a single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }


def materialize_everything(instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    """One run over all assets and checks, covering every landed day of interactions."""
    from pipelines.definitions import defs

    days = landing.interaction_days(get_settings().landing_dir)
    if not days:
        raise SystemExit("the landing zone holds no interactions: generate data first")
    graph = defs.resolve_asset_graph()
    assets = [a for a in graph.assets_defs]
    return dg.materialize(
        assets,
        instance=instance,
        tags=partition_range_tags(days),
        raise_on_error=False,
    )


def main() -> int:
    settings = get_settings()
    write_instance_config(settings.dagster_home_dir, settings.dagster_database_url)
    with dg.DagsterInstance.from_config(str(settings.dagster_home_dir)) as instance:
        result = materialize_everything(instance)
    if not result.success:
        print("the pipeline run failed; see the Dagster UI for the failed step", file=sys.stderr)
        return 1
    print(f"pipeline run {result.run_id} succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
