-- Every training pair has a positive interaction, no dismissal, and the weight of its strongest
-- interaction type; every pair that qualifies is in the training set.
with expected as (
    select
        user_id,
        event_id,
        max(weight) as weight
    from {{ ref('fct_interactions') }}
    group by user_id, event_id
    having bool_or(is_positive) and not bool_or(interaction_type = 'dismiss')
),

actual as (
    select
        user_id,
        event_id,
        weight
    from {{ ref('ml_training_interactions') }}
)

select
    coalesce(expected.user_id, actual.user_id) as user_id,
    coalesce(expected.event_id, actual.event_id) as event_id,
    expected.weight as expected_weight,
    actual.weight as actual_weight
from expected
full outer join actual
    on expected.user_id = actual.user_id
    and expected.event_id = actual.event_id
where expected.weight is distinct from actual.weight
