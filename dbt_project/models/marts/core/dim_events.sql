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
        status,
        created_at,
        updated_at,
        record_origin
    from {{ ref('int_events_unioned') }}
)

select
    event_id,
    title,
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
    status,
    status = 'published' and starts_at > current_timestamp as is_recommendable,
    created_at,
    updated_at,
    record_origin
from events
