-- Landed users plus the API's: per user id the most recently updated version wins (landed on a tie),
-- so API sign-ups not yet ingested and profile edits since the last ingest are both visible.
with landed as (
    select
        user_id,
        role,
        email_domain,
        home_city,
        home_lat,
        home_lng,
        interests,
        created_at,
        updated_at,
        'landed' as record_origin
    from {{ ref('stg_raw__users') }}
),

api as (
    select
        user_id,
        role,
        email_domain,
        home_city,
        home_lat,
        home_lng,
        interests,
        created_at,
        updated_at,
        'api' as record_origin
    from {{ ref('stg_app__users') }}
),

unioned as (
    select * from landed
    union all
    select * from api
),

ranked as (
    select
        user_id,
        role,
        email_domain,
        home_city,
        home_lat,
        home_lng,
        interests,
        created_at,
        updated_at,
        record_origin,
        row_number() over (
            partition by user_id
            order by updated_at desc, (record_origin = 'landed') desc
        ) as version_rank
    from unioned
)

select
    user_id,
    role,
    email_domain,
    home_city,
    home_lat,
    home_lng,
    interests,
    created_at,
    updated_at,
    record_origin
from ranked
where version_rank = 1
