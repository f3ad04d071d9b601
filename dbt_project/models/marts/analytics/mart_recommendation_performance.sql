-- Per model version: impressions -> clicks -> registrations over distinct (user, event) pairs.
-- Clicks and registrations come from the serving feedback and from interactions whose source is
-- `recommendation`; a pair counted by both is counted once. The rates only count clicks and
-- registrations of pairs that were shown, so they stay within 0..1.
with feedback as (
    select
        model_version,
        user_id,
        event_id,
        action,
        position,
        occurred_at
    from {{ ref('fct_recommendation_feedback') }}
),

recommended_interactions as (
    select
        coalesce(model_version, 'unknown') as model_version,
        user_id,
        event_id,
        interaction_type as action,
        null::integer as position,
        occurred_at
    from {{ ref('fct_interactions') }}
    where source = 'recommendation'
        and interaction_type in ('click', 'register', 'dismiss')
),

signals as (
    select model_version, user_id, event_id, action, position, occurred_at from feedback
    union all
    select model_version, user_id, event_id, action, position, occurred_at from recommended_interactions
),

pairs as (
    select
        model_version,
        user_id,
        event_id,
        bool_or(action = 'impression') as impressed,
        bool_or(action = 'click') as clicked,
        bool_or(action = 'register') as registered,
        bool_or(action = 'dismiss') as dismissed,
        bool_or(action = 'like') as liked,
        bool_or(action = 'dislike') as disliked,
        min(position) filter (where action = 'impression') as best_position
    from signals
    group by model_version, user_id, event_id
),

by_version as (
    select
        model_version,
        count(*) filter (where impressed) as impressed_pairs,
        count(*) filter (where clicked) as clicked_pairs,
        count(*) filter (where registered) as registered_pairs,
        count(*) filter (where impressed and clicked) as impressed_clicked_pairs,
        count(*) filter (where impressed and registered) as impressed_registered_pairs,
        count(*) filter (where dismissed) as dismissed_pairs,
        count(*) filter (where liked) as liked_pairs,
        count(*) filter (where disliked) as disliked_pairs,
        count(distinct user_id) filter (where impressed) as users_reached,
        count(distinct event_id) filter (where impressed) as events_recommended,
        avg(best_position) filter (where clicked) as mean_clicked_position
    from pairs
    group by model_version
),

activity as (
    select
        model_version,
        count(*) filter (where action = 'impression') as impressions,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from signals
    group by model_version
)

select
    by_version.model_version,
    activity.impressions,
    by_version.impressed_pairs,
    by_version.clicked_pairs,
    by_version.registered_pairs,
    by_version.dismissed_pairs,
    by_version.liked_pairs,
    by_version.disliked_pairs,
    by_version.users_reached,
    by_version.events_recommended,
    by_version.impressed_clicked_pairs,
    by_version.impressed_registered_pairs,
    by_version.impressed_clicked_pairs::double precision
    / nullif(by_version.impressed_pairs, 0) as click_through_rate,
    by_version.impressed_registered_pairs::double precision
    / nullif(by_version.impressed_pairs, 0) as registration_rate,
    by_version.registered_pairs::double precision
    / nullif(by_version.clicked_pairs, 0) as click_to_register_rate,
    by_version.mean_clicked_position::double precision as mean_clicked_position,
    activity.first_seen_at,
    activity.last_seen_at
from by_version
inner join activity
    on by_version.model_version = activity.model_version
