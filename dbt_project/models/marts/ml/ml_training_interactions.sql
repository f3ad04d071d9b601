{{ config(materialized='view') }}

-- The implicit-feedback training set: one row per (user, event) pair with at least one positive
-- interaction and no dismissal; its weight is the strongest interaction type seen for the pair.
-- Interactions with a duplicate listing count for its canonical event (dim_events), so a user who
-- booked one feed's listing and viewed another's is one pair, and a dismissal of any listing of
-- the event rules the pair out. A view: it follows fct_user_event_activity (incremental, unique
-- on the listing pair) and the current curation.
with listing_pairs as (
    select
        activity.user_id,
        coalesce(events.canonical_event_id, activity.event_id) as event_id,
        activity.has_positive,
        activity.dismissed,
        activity.max_weight,
        activity.first_interaction_at,
        activity.last_interaction_at,
        activity.interaction_count
    from {{ ref('fct_user_event_activity') }} as activity
    left join {{ ref('dim_events') }} as events
        on events.event_id = activity.event_id
)

select
    user_id::bigint as user_id,
    event_id::bigint as event_id,
    max(max_weight) filter (where has_positive)::double precision as weight,
    min(first_interaction_at) filter (where has_positive) as first_interaction_at,
    max(last_interaction_at) filter (where has_positive) as last_interaction_at,
    sum(interaction_count) filter (where has_positive)::bigint as interaction_count
from listing_pairs
group by user_id, event_id
having bool_or(has_positive) and not bool_or(dismissed)
