-- Per category and UTC day: interactions by type, reach, and a trailing 7-day total.
with interactions as (
    select
        fct.occurred_date,
        fct.user_id,
        fct.event_id,
        fct.interaction_type,
        fct.weight,
        coalesce(events.category, 'unknown') as category
    from {{ ref('fct_interactions') }} as fct
    left join {{ ref('dim_events') }} as events
        on fct.event_id = events.event_id
),

daily as (
    select
        category,
        occurred_date as activity_date,
        count(*) as interactions,
        count(*) filter (where interaction_type = 'view') as views,
        count(*) filter (where interaction_type = 'click') as clicks,
        count(*) filter (where interaction_type = 'favorite') as favorites,
        count(*) filter (where interaction_type = 'share') as shares,
        count(*) filter (where interaction_type = 'register') as registrations,
        count(*) filter (where interaction_type = 'attend') as attendances,
        count(*) filter (where interaction_type = 'dismiss') as dismissals,
        count(distinct user_id) as active_users,
        count(distinct event_id) as active_events,
        sum(weight) as engagement_weight
    from interactions
    group by category, occurred_date
)

select
    category,
    activity_date,
    interactions,
    views,
    clicks,
    favorites,
    shares,
    registrations,
    attendances,
    dismissals,
    active_users,
    active_events,
    engagement_weight,
    interactions::double precision
    / sum(interactions) over (partition by activity_date) as share_of_day_interactions,
    sum(interactions) over (
        partition by category
        order by activity_date
        range between interval '6 days' preceding and current row
    )::bigint as interactions_trailing_7d
from daily
