{{ config(indexes=[{'columns': ['user_id', 'event_id'], 'unique': True}]) }}

-- One row per (user, event) pair with any interaction or registration: what the user did, the
-- strongest interaction weight, and the furthest funnel stage reached. Stages are cumulative (a
-- registration implies the user saw the event), so funnels built on them never widen:
-- view >= click >= register >= attend. Popularity, the funnel and the training set read it.
with interactions as (
    select
        user_id,
        event_id,
        count(*) as interaction_count,
        max(weight) filter (where is_positive) as max_weight,
        bool_or(is_positive) as has_positive,
        bool_or(interaction_type = 'view') as viewed,
        bool_or(interaction_type = 'click') as clicked,
        bool_or(interaction_type = 'favorite') as favorited,
        bool_or(interaction_type = 'share') as shared,
        bool_or(interaction_type = 'register') as registered,
        bool_or(interaction_type = 'attend') as attended,
        bool_or(interaction_type = 'dismiss') as dismissed,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) as last_interaction_at
    from {{ ref('fct_interactions') }}
    group by user_id, event_id
),

registrations as (
    select
        user_id,
        event_id,
        true as registered,
        bool_or(status = 'attended') as attended
    from {{ ref('fct_registrations') }}
    group by user_id, event_id
),

combined as (
    select
        coalesce(interactions.user_id, registrations.user_id) as user_id,
        coalesce(interactions.event_id, registrations.event_id) as event_id,
        coalesce(interactions.interaction_count, 0) as interaction_count,
        interactions.max_weight,
        coalesce(interactions.has_positive, false) as has_positive,
        coalesce(interactions.viewed, false) as viewed,
        coalesce(interactions.clicked, false) as clicked,
        coalesce(interactions.favorited, false) as favorited,
        coalesce(interactions.shared, false) as shared,
        coalesce(interactions.registered, false)
        or coalesce(registrations.registered, false) as registered,
        coalesce(interactions.attended, false)
        or coalesce(registrations.attended, false) as attended,
        coalesce(interactions.dismissed, false) as dismissed,
        interactions.first_interaction_at,
        interactions.last_interaction_at
    from interactions
    full outer join registrations
        on interactions.user_id = registrations.user_id
        and interactions.event_id = registrations.event_id
)

select
    user_id,
    event_id,
    interaction_count,
    max_weight,
    has_positive,
    viewed,
    clicked,
    favorited,
    shared,
    registered,
    attended,
    dismissed,
    first_interaction_at,
    last_interaction_at,
    (viewed or clicked or favorited or shared or registered or attended) as reached_view,
    (clicked or registered or attended) as reached_click,
    (registered or attended) as reached_register,
    attended as reached_attend
from combined
