-- Event attributes the recommenders use, one row per real event (every status: filter on `status`
-- and `starts_at` for what may be recommended): duplicate listings are left out, their
-- interactions count for the canonical event (ml_training_interactions).
select
    event_id::bigint as event_id,
    title,
    description,
    category,
    tags::text[] as tags,
    city,
    lat::double precision as lat,
    lng::double precision as lng,
    price::double precision as price,
    currency::text as currency,
    capacity::integer as capacity,
    status,
    starts_at,
    ends_at,
    organizer_id::bigint as organizer_id,
    series_id::text as series_id,
    venue_id::bigint as venue_id,
    created_at
from {{ ref('dim_events') }}
where is_canonical
