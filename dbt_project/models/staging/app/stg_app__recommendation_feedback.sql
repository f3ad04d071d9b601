with source as (
    select
        id,
        user_id,
        event_id,
        model_version,
        action,
        position,
        occurred_at,
        received_at
    from {{ source('app', 'recommendation_feedback') }}
)

select
    id as feedback_id,
    user_id,
    event_id,
    model_version,
    action,
    position,
    occurred_at,
    received_at
from source
