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
        status,
        created_at,
        updated_at,
        record_origin
    from {{ ref('int_events_unioned') }}
),

series as (
    select event_id, series_id, series_source, normalized_title
    from {{ ref('int_event_series') }}
)

select
    events.event_id,
    title,
    series.normalized_title,
    description,
    category,
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
    coalesce(lower(trim(venue_name)) = 'online', false) as is_online,
    external_id,
    status,
    status = 'published' and starts_at > current_timestamp as is_recommendable,
    created_at,
    updated_at,
    record_origin
from events
inner join series on series.event_id = events.event_id
