{{ config(materialized='view') }}

-- The implicit-feedback training set: one row per (user, event) pair with at least one positive
-- interaction and no dismissal; its weight is the strongest interaction type seen for the pair.
-- A view: it follows fct_user_event_activity (incremental, unique on the pair) with no copy to
-- rebuild.
select
    user_id::bigint as user_id,
    event_id::bigint as event_id,
    max_weight::double precision as weight,
    first_interaction_at,
    last_interaction_at,
    interaction_count::bigint as interaction_count
from {{ ref('fct_user_event_activity') }}
where has_positive
    and not dismissed
