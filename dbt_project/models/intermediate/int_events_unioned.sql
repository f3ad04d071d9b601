-- Landed events plus the API's: per event id the most recently updated version wins (landed on a
-- tie), so events created or edited through the API since the last ingest are visible.
with landed as (
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
        series_id,
        venue_id,
        external_id,
        timezone,
        attendance_mode,
        online_url,
        image_url,
        status,
        created_at,
        updated_at,
        'landed' as record_origin
    from {{ ref('stg_raw__events') }}
),

api as (
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
        series_id,
        venue_id,
        external_id,
        timezone,
        attendance_mode,
        online_url,
        image_url,
        status,
        created_at,
        updated_at,
        'api' as record_origin
    from {{ ref('stg_app__events') }}
),

unioned as (
    select * from landed
    union all
    select * from api
),

ranked as (
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
        series_id,
        venue_id,
        external_id,
        timezone,
        attendance_mode,
        online_url,
        image_url,
        status,
        created_at,
        updated_at,
        record_origin,
        row_number() over (
            partition by event_id
            order by updated_at desc, (record_origin = 'landed') desc
        ) as version_rank
    from unioned
)

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
    series_id,
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
from ranked
where version_rank = 1
