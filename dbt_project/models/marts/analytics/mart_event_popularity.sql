-- Per real event: what users did with it and a popularity score in which each interaction's
-- weight decays with its age (half-life `popularity_half_life_days`). One row per canonical
-- event; what happened on its duplicate listings (other feeds) counts for it.
with events as (
    select
        event_id,
        title,
        resolved_category as category,
        city,
        status,
        starts_at
    from {{ ref('dim_events') }}
    where is_canonical
),

canonical as (
    select event_id, canonical_event_id from {{ ref('dim_events') }}
),

-- Per event: the days before the one `popularity_as_of` falls on are settled (each day's growth
-- times its decay); that day and any later one are summed interaction by interaction, since an
-- interaction after `popularity_as_of` (clock skew) counts with its full weight.
interaction_counts as (
    select
        canonical.canonical_event_id as event_id,
        sum(interactions) as interactions,
        sum(views) as views,
        sum(clicks) as clicks,
        sum(favorites) as favorites,
        sum(shares) as shares,
        sum(dismissals) as dismissals,
        -- In double precision: exp() of a numeric is computed digit by digit, many times slower.
        sum(
            weight_growth * exp(
                -ln(2.0::double precision)
                * extract(epoch from ({{ popularity_as_of() }} - activity_date::timestamp at time zone 'utc'))::double precision
                / (86400.0 * {{ var('popularity_half_life_days') }})
            )
        ) filter (
            where activity_date < ({{ popularity_as_of() }} at time zone 'utc')::date
        ) as settled_score,
        max(last_interaction_at) as last_interaction_at
    from {{ ref('fct_event_activity_daily') }} as daily
    inner join canonical on canonical.event_id = daily.event_id
    group by canonical.canonical_event_id
),

recent_scores as (
    select
        canonical.canonical_event_id as event_id,
        sum(weight * {{ decay_factor('occurred_at') }}) as recent_score
    from {{ ref('fct_interactions') }} as fct
    inner join canonical on canonical.event_id = fct.event_id
    where occurred_date >= ({{ popularity_as_of() }} at time zone 'utc')::date
    group by canonical.canonical_event_id
),

-- Distinct users per stage, as the funnel counts them from fct_user_event_activity, summed over
-- the listings of a real event (a user on two listings of one event counts on each).
user_stages as (
    select
        canonical.canonical_event_id as event_id,
        sum(viewers) as distinct_users,
        sum(registrants) as registrations,
        sum(attendees) as attendance
    from {{ ref('mart_event_funnel') }} as funnel
    inner join canonical on canonical.event_id = funnel.event_id
    group by canonical.canonical_event_id
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
        (
            coalesce(interaction_counts.settled_score, 0) + coalesce(recent_scores.recent_score, 0)
        )::double precision as popularity_score,
        interaction_counts.last_interaction_at
    from events
    left join interaction_counts
        on events.event_id = interaction_counts.event_id
    left join recent_scores
        on events.event_id = recent_scores.event_id
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
