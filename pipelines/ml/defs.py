"""ML domain: training and scoring assets; training runs weekly, scoring follows its upstreams."""

from __future__ import annotations

import dagster as dg

from pipelines.kernel.schedules import running_schedule
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
    description="Re-publish recommendations from the current champion (by hand: the asset "
    "follows its upstreams by itself).",
)

defs = dg.Definitions(
    assets=[assets.recommender, assets.champion, assets.serving_recommendations],
    jobs=[training_job, scoring_job],
    schedules=[
        # Time is the reason here: a week of new interactions is worth a new candidate.
        running_schedule(training_job, "0 3 * * 1"),
    ],
)
