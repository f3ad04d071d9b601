with source as (
    select
        feedback_id,
        user_id,
        event_id,
        model_version,
        action,
        position,
        occurred_at,
        received_at,
        _loaded_at
    from {{ source('raw', 'recommendation_feedback') }}
)

select
    feedback_id,
    user_id,
    event_id,
    model_version,
    action,
    position,
    occurred_at,
    received_at,
    _loaded_at as loaded_at
from source
