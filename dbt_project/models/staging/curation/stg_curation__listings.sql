-- One row per landed listing with what curation decided about it. The three curation tables
-- are rebuilt together by one Dagster run, so they describe the same listings.
select
    clusters.event_id,
    clusters.canonical_id,
    clusters.is_canonical,
    clusters.cluster_size,
    clusters.match_probability,
    categories.category,
    categories.source as category_source,
    categories.confidence as category_confidence,
    coalesce(categories.low_confidence, false) as category_low_confidence,
    quality.quality_score,
    coalesce(quality.flags, '{}'::text[]) as quality_flags,
    coalesce(quality.low_quality, false) as low_quality,
    coalesce(quality.rejected, false) as rejected
from {{ source('curation', 'listing_clusters') }} as clusters
left join {{ source('curation', 'event_categories') }} as categories
    on categories.event_id = clusters.event_id
left join {{ source('curation', 'listing_quality') }} as quality
    on quality.event_id = clusters.event_id
