with source as (
    select
        registration_id,
        user_id,
        event_id,
        status,
        created_at,
        updated_at,
        _loaded_at
    from {{ source('raw', 'registrations') }}
)

select
    registration_id,
    user_id,
    event_id,
    status,
    created_at,
    updated_at,
    _loaded_at as loaded_at
from source
