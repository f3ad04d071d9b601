-- Feedback copied into raw plus the API's rows not copied yet (feedback is never updated).
with landed as (
    select
        feedback_id,
        user_id,
        event_id,
        model_version,
        action,
        position,
        occurred_at,
        received_at,
        'landed' as record_origin
    from {{ ref('stg_raw__recommendation_feedback') }}
),

api as (
    select
        api_feedback.feedback_id,
        api_feedback.user_id,
        api_feedback.event_id,
        api_feedback.model_version,
        api_feedback.action,
        api_feedback.position,
        api_feedback.occurred_at,
        api_feedback.received_at,
        'api' as record_origin
    from {{ ref('stg_app__recommendation_feedback') }} as api_feedback
    where not exists (
        select 1
        from landed
        where landed.feedback_id = api_feedback.feedback_id
    )
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
    record_origin
from landed
union all
select
    feedback_id,
    user_id,
    event_id,
    model_version,
    action,
    position,
    occurred_at,
    received_at,
    record_origin
from api
