"""Curation domain: canonical events, categories and quality flags of the landed listings."""

from __future__ import annotations

import dagster as dg

from pipelines.curation import assets, checks

curation_job = dg.define_asset_job(
    "curation_job",
    selection=dg.AssetSelection.groups("curation"),
    description="Re-curate the landed listings: merge duplicates, categorise, flag.",
)

defs = dg.Definitions(
    assets=[
        assets.listing_clusters,
        assets.category_model,
        assets.event_categories,
        assets.quality_flags,
        assets.app_event_curation,
    ],
    asset_checks=list(checks.CHECKS),
    jobs=[curation_job],
)
