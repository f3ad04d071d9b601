with feedback as (
    select
        feedback_id,
        user_id,
        event_id,
        model_version,
        action,
        position,
        occurred_at,
        received_at
    from {{ ref('stg_raw__recommendation_feedback') }}
)

select
    feedback_id,
    user_id,
    event_id,
    model_version,
    action,
    position,
    occurred_at,
    (occurred_at at time zone 'utc')::date as occurred_date,
    received_at
from feedback
