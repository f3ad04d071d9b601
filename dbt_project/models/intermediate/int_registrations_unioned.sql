-- Registrations copied into raw plus the API's: the latest status per registration id wins.
with landed as (
    select
        registration_id,
        user_id,
        event_id,
        status,
        created_at,
        updated_at,
        'landed' as record_origin
    from {{ ref('stg_raw__registrations') }}
),

api as (
    select
        registration_id,
        user_id,
        event_id,
        status,
        created_at,
        updated_at,
        'api' as record_origin
    from {{ ref('stg_app__registrations') }}
),

unioned as (
    select * from landed
    union all
    select * from api
),

ranked as (
    select
        registration_id,
        user_id,
        event_id,
        status,
        created_at,
        updated_at,
        record_origin,
        row_number() over (
            partition by registration_id
            order by updated_at desc, (record_origin = 'landed') desc
        ) as version_rank
    from unioned
)

select
    registration_id,
    user_id,
    event_id,
    status,
    created_at,
    updated_at,
    record_origin
from ranked
where version_rank = 1
