"""The landing sensor's run keys and the failed-run log, as a data engineer relies on them."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from pipelines.ingest.defs import landing_run_requests
from pipelines.ingest.landing import LedgerEntry, pending_files

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def _land(root: Path, day: date, name: str, body: str) -> Path:
    folder = root / "interactions" / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body)
    return path


def _loaded(paths: list[Path], at: datetime) -> dict[str, LedgerEntry]:
    return {str(p): LedgerEntry(p.stat().st_size, at) for p in paths}


def _keys(requests: list[dg.RunRequest]) -> list[tuple[str | None, str]]:
    return [(r.partition_key, r.run_key or "") for r in requests]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    _land(tmp_path, DAY1, "part-0.jsonl", '{"a": 1}\n')
    _land(tmp_path, DAY2, "part-0.jsonl", '{"a": 2}\n')
    return tmp_path


def test_every_complete_day_with_new_files_gets_a_run(root: Path) -> None:
    requests = landing_run_requests(root, {}, last_day=DAY2)
    assert [r.partition_key for r in requests] == ["2026-03-01", "2026-03-02"]
    # Evaluated again over the same files: the same keys, which Dagster launches only once.
    assert _keys(landing_run_requests(root, {}, last_day=DAY2)) == _keys(requests)
    # A day that is not over yet (not a partition) waits.
    assert [r.partition_key for r in landing_run_requests(root, {}, DAY1)] == ["2026-03-01"]
    assert landing_run_requests(root, {}, last_day=None) == []


def test_a_failed_day_runs_again_when_a_file_is_corrected_or_added(root: Path) -> None:
    first = dict(_keys(landing_run_requests(root, {}, last_day=DAY2)))
    # The run failed: nothing reached the ledger. Same files, same key: no retry loop.
    assert dict(_keys(landing_run_requests(root, {}, last_day=DAY2))) == first

    fixed = root / "interactions" / "date=2026-03-01" / "part-0.jsonl"
    fixed.write_text('{"a": 10}\n')
    os.utime(fixed, ns=(fixed.stat().st_atime_ns, fixed.stat().st_mtime_ns + 10**9))
    corrected = dict(_keys(landing_run_requests(root, {}, last_day=DAY2)))
    assert corrected["2026-03-01"] != first["2026-03-01"]
    assert corrected["2026-03-02"] == first["2026-03-02"]

    _land(root, DAY2, "part-1.jsonl", '{"a": 3}\n')
    added = dict(_keys(landing_run_requests(root, {}, last_day=DAY2)))
    assert added["2026-03-02"] != first["2026-03-02"]


def test_loaded_files_wait_until_they_change(root: Path) -> None:
    files = sorted((root / "interactions").rglob("*.jsonl"))
    after = datetime.now(UTC) + timedelta(seconds=5)
    ledger = _loaded(files, after)
    assert pending_files(files, ledger) == []
    assert landing_run_requests(root, ledger, last_day=DAY2) == []

    # Rewritten in place after its load, same size: pending again (a correction).
    files[0].write_text('{"a": 9}\n')
    os.utime(files[0], (after.timestamp() + 60, after.timestamp() + 60))
    assert pending_files(files, ledger) == [files[0]]
    assert [r.partition_key for r in landing_run_requests(root, ledger, DAY2)] == ["2026-03-01"]


def test_new_feed_files_ride_with_a_day_or_get_a_run_of_their_own(root: Path) -> None:
    files = sorted((root / "interactions").rglob("*.jsonl"))
    ledger = _loaded(files, datetime.now(UTC) + timedelta(seconds=5))
    (root / "events").mkdir()
    feed = root / "events" / "events.csv"
    feed.write_text("event_id\n1\n")
    requests = landing_run_requests(root, ledger, last_day=DAY2)
    assert [r.partition_key for r in requests] == ["2026-03-02"]
    assert requests[0].run_key.startswith("feeds:")

    # With a pending day, the feeds ride along: their files are part of that run's key.
    _land(root, DAY1, "part-1.jsonl", '{"a": 4}\n')
    before = landing_run_requests(root, ledger, last_day=DAY2)
    feed.write_text("event_id\n1\n2\n")
    after = landing_run_requests(root, ledger, last_day=DAY2)
    assert [r.partition_key for r in after] == ["2026-03-01"]
    assert after[0].run_key != before[0].run_key


def test_daily_schedule_at_two_requests_yesterday() -> None:
    from pipelines.definitions import defs

    schedule = defs.get_schedule_def("daily_pipeline_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    )
    requests = schedule.evaluate_tick(context).run_requests or []
    assert [r.partition_key for r in requests] == ["2026-03-04"]


def test_a_failed_run_is_recorded_in_the_failure_log(tmp_path: Path) -> None:
    from core.settings import get_settings
    from pipelines.operations.defs import run_failure_recorder
    from pipelines.operations.failures import FAILURE_LOG

    @dg.asset
    def broken() -> None:
        raise ValueError("the feed is unreadable")

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([broken], instance=instance, raise_on_error=False)
        assert not result.success
        (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_recorder.name,
            dagster_event=failure.dagster_event,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        run_failure_recorder(context)

    log = get_settings().logs_dir / FAILURE_LOG
    records = [json.loads(line) for line in log.read_text().splitlines()]
    record = next(r for r in records if r["run_id"] == result.run_id)
    assert record["job"] == result.dagster_run.job_name
    assert [s["step"] for s in record["failed_steps"]] == ["broken"]
    assert "the feed is unreadable" in record["failed_steps"][0]["error"]


def test_partitions_start_on_the_configured_day() -> None:
    import subprocess
    import sys

    from core.settings import REPO_ROOT

    first = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pipelines.ingest.assets import interaction_partitions as p; "
            "print(p.get_first_partition_key())",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "INTERACTIONS_START_DATE": "2026-02-03"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert first.stdout.strip() == "2026-02-03"
