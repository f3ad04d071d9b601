with source as (
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
        _source,
        _loaded_at
    from {{ source('raw', 'events') }}
)

select
    event_id,
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
    status,
    created_at,
    updated_at,
    _source as source_file,
    _loaded_at as loaded_at
from source
