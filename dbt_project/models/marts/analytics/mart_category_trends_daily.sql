{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='replace_keys',
        tombstone='category is null',
        on_schema_change='append_new_columns',
    )
}}

-- depends_on: {{ ref('fct_event_activity_daily') }}

-- Per category and UTC day: interactions by type, reach, and a trailing 7-day total.
-- Incremental: a run recomputes whole days, those with interactions written or replaced since
-- its last run and those whose per-category counts no longer match the events' categories (an
-- event re-categorised, or landed after its interactions), each with the 6 days after it (their
-- trailing totals include it).
with
{% if is_incremental() %}
changed_dates as (
    select occurred_date as activity_date
    from ({{ changed_interaction_keys(own_watermark()) }}) as changed_interactions
    union
    select coalesce(current_counts.activity_date, built.activity_date) as activity_date
    from (
        select
            coalesce(events.category, 'unknown') as category,
            event_days.activity_date,
            sum(event_days.interactions) as interactions
        from {{ ref('fct_event_activity_daily') }} as event_days
        left join {{ ref('dim_events') }} as events
            on event_days.event_id = events.event_id
        group by coalesce(events.category, 'unknown'), event_days.activity_date
    ) as current_counts
    full outer join (
        select
            category,
            activity_date,
            interactions
        from {{ this }}
    ) as built
        on current_counts.category = built.category
        and current_counts.activity_date = built.activity_date
    where current_counts.interactions is distinct from built.interactions
),

recomputed_dates as (
    select distinct changed_dates.activity_date + days_after as activity_date
    from changed_dates
    cross join generate_series(0, 6) as days_after
),
{% endif %}

interactions as (
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
    {% if is_incremental() %}
    -- `= any(array(...))`, not `in (select ...)`: the planner then expects a few days and reads
    -- them through the index on occurred_date, where it would scan all interactions.
    where fct.occurred_date = any(array(select activity_date from recomputed_dates))
    {% endif %}
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
),

-- Daily totals the trailing sums read: the recomputed days, and the 6 days before them as built.
daily_totals as (
    select
        category,
        activity_date,
        interactions
    from daily
    {% if is_incremental() %}
    union all
    select
        category,
        activity_date,
        interactions
    from {{ this }}
    where activity_date not in (select activity_date from recomputed_dates)
        and activity_date >= (select min(activity_date) - 6 from recomputed_dates)
    {% endif %}
),

trailing_totals as (
    select
        category,
        activity_date,
        sum(interactions) over (
            partition by category
            order by activity_date
            range between interval '6 days' preceding and current row
        )::bigint as interactions_trailing_7d
    from daily_totals
)

select
    daily.category,
    daily.activity_date,
    daily.interactions,
    daily.views,
    daily.clicks,
    daily.favorites,
    daily.shares,
    daily.registrations,
    daily.attendances,
    daily.dismissals,
    daily.active_users,
    daily.active_events,
    daily.engagement_weight,
    daily.interactions::double precision
    / sum(daily.interactions) over (partition by daily.activity_date) as share_of_day_interactions,
    trailing_totals.interactions_trailing_7d,
    {{ interactions_watermark() }} as interactions_watermark
from daily
inner join trailing_totals
    on daily.category = trailing_totals.category
    and daily.activity_date = trailing_totals.activity_date
{% if is_incremental() %}
union all
-- Days left without interactions: tombstones that delete the day's stale rows.
select
    null as category,
    recomputed_dates.activity_date,
    0 as interactions,
    0 as views,
    0 as clicks,
    0 as favorites,
    0 as shares,
    0 as registrations,
    0 as attendances,
    0 as dismissals,
    0 as active_users,
    0 as active_events,
    0 as engagement_weight,
    null as share_of_day_interactions,
    null as interactions_trailing_7d,
    {{ interactions_watermark() }} as interactions_watermark
from recomputed_dates
where not exists (
    select 1
    from daily
    where daily.activity_date = recomputed_dates.activity_date
)
{% endif %}
