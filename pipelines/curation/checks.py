"""Asset checks of curation: the invariants the API and the marts rely on, and the shares an
operator watches (merged, flagged, low-confidence), each with its evidence as metadata."""

from __future__ import annotations

import dagster as dg

from core.db import connect
from pipelines.curation.assets import (
    EVENT_CATEGORIES,
    LISTING_CLUSTERS,
    MAX_FLAGGED_SHARE,
    MAX_LOW_CONFIDENCE_SHARE,
    MAX_MERGED_SHARE,
    QUALITY_FLAGS,
)


def _one(query: str) -> tuple:
    with connect() as conn:
        row = conn.execute(query).fetchone()
    return tuple(row) if row else ()


def _share_check(share: float, limit: float, what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=share <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{what}: {share:.2%} (warn above {limit:.0%})",
        metadata={"share": dg.MetadataValue.float(round(share, 4)), "limit": limit},
    )


@dg.asset_check(asset=LISTING_CLUSTERS, blocking=True, name="one_canonical_event_per_listing")
def one_canonical_event_per_listing() -> dg.AssetCheckResult:
    """Every listing of ``raw.events`` has exactly one cluster row, and every canonical id is a
    listing of its own cluster marked canonical."""
    missing, extra, orphaned = _one(
        """SELECT
             (SELECT count(*) FROM raw.events e
              WHERE NOT EXISTS (SELECT 1 FROM curation.listing_clusters c
                                WHERE c.event_id = e.event_id)),
             (SELECT count(*) FROM curation.listing_clusters c
              WHERE NOT EXISTS (SELECT 1 FROM raw.events e WHERE e.event_id = c.event_id)),
             (SELECT count(*) FROM curation.listing_clusters c
              WHERE NOT EXISTS (SELECT 1 FROM curation.listing_clusters h
                                WHERE h.event_id = c.canonical_id AND h.is_canonical))"""
    )
    return dg.AssetCheckResult(
        passed=missing == extra == orphaned == 0,
        metadata={
            "listings_without_cluster": dg.MetadataValue.int(missing),
            "clusters_without_listing": dg.MetadataValue.int(extra),
            "canonical_ids_not_canonical": dg.MetadataValue.int(orphaned),
        },
    )


@dg.asset_check(asset=LISTING_CLUSTERS, name="merged_share")
def merged_share() -> dg.AssetCheckResult:
    """Share of listings merged into another listing's canonical event."""
    (share,) = _one(
        "SELECT coalesce(avg((NOT is_canonical)::int), 0)::float FROM curation.listing_clusters"
    )
    return _share_check(share, MAX_MERGED_SHARE, "listings merged into another")


@dg.asset_check(asset=EVENT_CATEGORIES, blocking=True, name="every_listing_has_a_category")
def every_listing_has_a_category() -> dg.AssetCheckResult:
    """Every listing of ``raw.events`` has a category row."""
    (missing,) = _one(
        """SELECT count(*) FROM raw.events e
           WHERE NOT EXISTS (SELECT 1 FROM curation.event_categories c
                             WHERE c.event_id = e.event_id)"""
    )
    return dg.AssetCheckResult(
        passed=missing == 0, metadata={"listings_without_category": dg.MetadataValue.int(missing)}
    )


@dg.asset_check(asset=EVENT_CATEGORIES, name="low_confidence_share")
def low_confidence_share() -> dg.AssetCheckResult:
    """Share of listings whose category is a low-confidence prediction."""
    (share,) = _one(
        "SELECT coalesce(avg(low_confidence::int), 0)::float FROM curation.event_categories"
    )
    return _share_check(share, MAX_LOW_CONFIDENCE_SHARE, "categories predicted with low confidence")


@dg.asset_check(asset=QUALITY_FLAGS, name="flagged_share")
def flagged_share() -> dg.AssetCheckResult:
    """Share of listings with a content flag (duplicates aside)."""
    (share,) = _one(
        """SELECT coalesce(avg((flags <> '{}' AND flags <> '{duplicate_listing}')::int), 0)::float
           FROM curation.listing_quality"""
    )
    return _share_check(share, MAX_FLAGGED_SHARE, "listings flagged")


CHECKS = (
    one_canonical_event_per_listing,
    merged_share,
    every_listing_has_a_category,
    low_confidence_share,
    flagged_share,
)
