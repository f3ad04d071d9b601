"""Failed runs as records: one JSON line per failure in ``data/logs/pipeline_failures.jsonl``.

The Dagster UI lists failed runs; the log is where a shell, a log shipper or an alert rule reads
them without the UI (``tail -f``, ``jq``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FAILURE_LOG = "pipeline_failures.jsonl"
# Tags that say which partitions a run covered.
_PARTITION_TAGS = (
    "dagster/partition",
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)


def failure_record(
    *,
    run_id: str,
    job_name: str,
    tags: dict[str, str],
    message: str,
    failed_steps: list[tuple[str, str]],
    failed_at: datetime | None = None,
) -> dict[str, Any]:
    """The line recorded for one failed run: which run, what it covered, what failed and why."""
    return {
        "failed_at": (failed_at or datetime.now(UTC)).isoformat(),
        "run_id": run_id,
        "job": job_name,
        "partitions": {key: tags[key] for key in _PARTITION_TAGS if key in tags},
        "message": message,
        "failed_steps": [{"step": step, "error": error} for step, error in failed_steps],
    }


def append_failure(logs_dir: Path, record: dict[str, Any]) -> Path:
    """Append ``record`` to the failure log (one line, so concurrent writers never interleave)."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / FAILURE_LOG
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
