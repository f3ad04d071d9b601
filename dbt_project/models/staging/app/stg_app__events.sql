with source as (
    select
        id,
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
        status,
        created_at,
        updated_at
    from {{ source('app', 'events') }}
)

select
    id as event_id,
    title,
    description,
    category,
    coalesce(tags, '{}'::text[]) as tags,
    starts_at,
    ends_at,
    venue_name,
    nullif(trim(city), '') as city,
    lat,
    lng,
    capacity,
    price,
    upper(trim(currency))::text as currency,
    organizer_id,
    series_id,
    venue_id,
    nullif(trim(external_id), '') as external_id,
    status,
    created_at,
    updated_at
from source
