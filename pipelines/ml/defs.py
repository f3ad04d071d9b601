"""ML domain: training and scoring assets, with their weekly and daily schedules."""

from __future__ import annotations

import dagster as dg

from pipelines.ml import assets

training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.assets(
        assets.RECOMMENDER, assets.CHAMPION, assets.SERVING_RECOMMENDATIONS
    ),
    description="Train, evaluate, register, decide the champion, then re-score with it.",
)
scoring_job = dg.define_asset_job(
    "scoring_job",
    selection=dg.AssetSelection.assets(assets.SERVING_RECOMMENDATIONS),
    description="Re-publish recommendations from the current champion.",
)

defs = dg.Definitions(
    assets=[assets.recommender, assets.champion, assets.serving_recommendations],
    jobs=[training_job, scoring_job],
    schedules=[
        dg.ScheduleDefinition(
            job=training_job,
            cron_schedule="0 3 * * 1",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.STOPPED,
        ),
        dg.ScheduleDefinition(
            job=scoring_job,
            cron_schedule="0 5 * * *",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.STOPPED,
        ),
    ],
)
