-- How far each user went with each event. Stages are cumulative (a registration implies the user
-- saw the event), so the funnel built from them never widens: view >= click >= register >= attend.
with interactions as (
    select
        event_id,
        user_id,
        count(*) as interaction_count,
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
    group by event_id, user_id
),

registrations as (
    select
        event_id,
        user_id,
        true as registered,
        bool_or(status = 'attended') as attended
    from {{ ref('fct_registrations') }}
    group by event_id, user_id
),

combined as (
    select
        coalesce(interactions.event_id, registrations.event_id) as event_id,
        coalesce(interactions.user_id, registrations.user_id) as user_id,
        coalesce(interactions.interaction_count, 0) as interaction_count,
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
        on interactions.event_id = registrations.event_id
        and interactions.user_id = registrations.user_id
)

select
    event_id,
    user_id,
    interaction_count,
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
