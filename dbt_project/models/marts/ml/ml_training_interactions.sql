-- The implicit-feedback training set: one row per (user, event) pair with at least one positive
-- interaction and no dismissal; its weight is the strongest interaction type seen for the pair.
with pairs as (
    select
        user_id,
        event_id,
        max(weight) as weight,
        bool_or(is_positive) as has_positive,
        bool_or(interaction_type = 'dismiss') as has_dismissal,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) as last_interaction_at,
        count(*) as interaction_count
    from {{ ref('fct_interactions') }}
    group by user_id, event_id
)

select
    user_id::bigint as user_id,
    event_id::bigint as event_id,
    weight::double precision as weight,
    first_interaction_at,
    last_interaction_at,
    interaction_count::bigint as interaction_count
from pairs
where has_positive
    and not has_dismissal
