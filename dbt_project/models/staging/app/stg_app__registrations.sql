with source as (
    select
        id,
        user_id,
        event_id,
        status,
        created_at,
        updated_at
    from {{ source('app', 'registrations') }}
)

select
    id as registration_id,
    user_id,
    event_id,
    status,
    created_at,
    updated_at
from source
