"""Operations domain: the sensor that records every failed run."""

from __future__ import annotations

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from core.settings import get_settings
from pipelines.operations.failures import append_failure, failure_record


def _root_cause(error: SerializableErrorInfo | None) -> str:
    """The innermost error of a step failure: the user's exception rather than Dagster's wrapper."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else ""


@dg.run_failure_sensor(
    name="run_failure_recorder",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def run_failure_recorder(context: dg.RunFailureSensorContext) -> None:
    """Record each failed run of this code location in ``data/logs/pipeline_failures.jsonl``.

    The sensor's ticks in the UI name the runs it saw; the log line carries the run, its
    partitions, the failed steps and their errors.
    """
    run = context.dagster_run
    steps = [
        (event.step_key or "", _root_cause(event.step_failure_data.error))
        for event in context.get_step_failure_events()
        if event.step_failure_data
    ]
    record = failure_record(
        run_id=run.run_id,
        job_name=run.job_name,
        tags=dict(run.tags),
        message=context.failure_event.message or "",
        failed_steps=steps,
    )
    path = append_failure(get_settings().logs_dir, record)
    context.log.error(f"run {run.run_id} of {run.job_name} failed; recorded in {path}")


defs = dg.Definitions(sensors=[run_failure_recorder])
