-- Per event: what users did with it and a popularity score in which each interaction's weight
-- decays with its age (half-life `popularity_half_life_days`).
with events as (
    select
        event_id,
        title,
        category,
        city,
        status,
        starts_at
    from {{ ref('dim_events') }}
),

interaction_counts as (
    select
        event_id,
        count(*) as interactions,
        count(*) filter (where interaction_type = 'view') as views,
        count(*) filter (where interaction_type = 'click') as clicks,
        count(*) filter (where interaction_type = 'favorite') as favorites,
        count(*) filter (where interaction_type = 'share') as shares,
        count(*) filter (where interaction_type = 'dismiss') as dismissals,
        sum(weight * {{ decay_factor('occurred_at') }}) as popularity_score,
        max(occurred_at) as last_interaction_at
    from {{ ref('fct_interactions') }}
    group by event_id
),

user_stages as (
    select
        event_id,
        count(*) filter (where reached_view) as distinct_users,
        count(*) filter (where reached_register) as registrations,
        count(*) filter (where reached_attend) as attendance
    from {{ ref('fct_user_event_activity') }}
    group by event_id
),

scored as (
    select
        events.event_id,
        events.title,
        events.category,
        events.city,
        events.status,
        events.starts_at,
        coalesce(interaction_counts.interactions, 0) as interactions,
        coalesce(interaction_counts.views, 0) as views,
        coalesce(interaction_counts.clicks, 0) as clicks,
        coalesce(interaction_counts.favorites, 0) as favorites,
        coalesce(interaction_counts.shares, 0) as shares,
        coalesce(user_stages.registrations, 0) as registrations,
        coalesce(user_stages.attendance, 0) as attendance,
        coalesce(interaction_counts.dismissals, 0) as dismissals,
        coalesce(user_stages.distinct_users, 0) as distinct_users,
        coalesce(interaction_counts.popularity_score, 0)::double precision as popularity_score,
        interaction_counts.last_interaction_at
    from events
    left join interaction_counts
        on events.event_id = interaction_counts.event_id
    left join user_stages
        on events.event_id = user_stages.event_id
)

select
    event_id,
    title,
    category,
    city,
    status,
    starts_at,
    interactions,
    views,
    clicks,
    favorites,
    shares,
    registrations,
    attendance,
    dismissals,
    distinct_users,
    popularity_score,
    rank() over (order by popularity_score desc) as popularity_rank,
    last_interaction_at
from scored
