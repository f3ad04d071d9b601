-- No training pair was ever dismissed, and each weight is the weight of a positive type.
with dismissals as (
    select distinct
        user_id,
        event_id
    from {{ ref('fct_interactions') }}
    where interaction_type = 'dismiss'
),

positive_weights as (
    select weight
    from {{ ref('interaction_type_weights') }}
    where is_positive
)

select
    training.user_id,
    training.event_id,
    training.weight
from {{ ref('ml_training_interactions') }} as training
where exists (
    select 1
    from dismissals
    where dismissals.user_id = training.user_id
        and dismissals.event_id = training.event_id
)
    or training.weight not in (select weight from positive_weights)
