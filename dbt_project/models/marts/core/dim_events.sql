with events as (
    select
        event_id,
        title,
        description,
        category,
        tags,
        starts_at,
        ends_at,
        venue_name,
        city,
        lat,
        lng,
        capacity,
        price,
        currency,
        organizer_id,
        venue_id,
        external_id,
        timezone,
        attendance_mode,
        online_url,
        image_url,
        status,
        created_at,
        updated_at,
        record_origin
    from {{ ref('int_events_unioned') }}
),

series as (
    select event_id, series_id, series_source, normalized_title
    from {{ ref('int_event_series') }}
),

-- What curation decided about each landed listing; API events (never curated) stand for
-- themselves.
curation as (
    select
        event_id,
        canonical_id,
        is_canonical,
        category,
        category_source,
        category_confidence,
        category_low_confidence,
        quality_score,
        quality_flags,
        low_quality
    from {{ ref('stg_curation__listings') }}
)

select
    events.event_id,
    coalesce(curation.canonical_id, events.event_id) as canonical_event_id,
    coalesce(curation.is_canonical, true) as is_canonical,
    title,
    series.normalized_title,
    description,
    events.category,
    coalesce(events.category, curation.category) as resolved_category,
    case
        when events.category is not null then 'feed'
        else curation.category_source
    end as category_source,
    curation.category_confidence,
    coalesce(curation.category_low_confidence, false) as category_low_confidence,
    coalesce(curation.quality_score, 1.0)::double precision as quality_score,
    coalesce(curation.quality_flags, '{}'::text[]) as quality_flags,
    coalesce(curation.low_quality, false) as low_quality,
    tags,
    starts_at,
    ends_at,
    (starts_at at time zone 'utc')::date as start_date,
    round((extract(epoch from (ends_at - starts_at)) / 60.0)::numeric, 0)::integer as duration_minutes,
    venue_name,
    city,
    lat,
    lng,
    capacity,
    price,
    currency,
    price = 0 as is_free,
    organizer_id,
    series.series_id,
    series.series_source,
    venue_id,
    attendance_mode = 'online' as is_online,
    attendance_mode,
    timezone,
    online_url,
    image_url,
    external_id,
    status,
    status = 'published' and starts_at > current_timestamp
        and coalesce(curation.is_canonical, true)
        and not coalesce(curation.low_quality, false) as is_recommendable,
    created_at,
    updated_at,
    record_origin
from events
inner join series on series.event_id = events.event_id
left join curation on curation.event_id = events.event_id
