{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='replace_keys',
        tombstone='event_id is null',
        on_schema_change='append_new_columns',
        post_hook=['analyze {{ this }}'],
        indexes=[
            {'columns': ['activity_date', 'event_id'], 'unique': True},
            {'columns': ['interactions_watermark']},
        ],
    )
}}

-- One row per event and UTC day with at least one interaction: counts by type, summed weights
-- and the day's part of the decayed popularity. `weight_growth` is the day's sum of
-- weight × 2^((occurred_at − day start) / half-life): an interaction's decayed weight at any
-- later instant is that growth times 2^(−(as of − day start) / half-life), so popularity is a sum
-- over these rows instead of over every interaction. Incremental: a run recomputes whole days,
-- those with interactions written or replaced since its last run, or every day when the
-- half-life changed.
with
{% if is_incremental() %}
changed_dates as (
    select distinct occurred_date
    from ({{ changed_interaction_keys(own_watermark()) }}) as changed_interactions
    union
    select occurred_date
    from {{ ref('fct_interactions') }}
    where (select max(half_life_days) from {{ this }}) <> {{ var('popularity_half_life_days') }}
),
{% endif %}

daily as (
    select
        event_id,
        occurred_date as activity_date,
        count(*) as interactions,
        count(*) filter (where interaction_type = 'view') as views,
        count(*) filter (where interaction_type = 'click') as clicks,
        count(*) filter (where interaction_type = 'favorite') as favorites,
        count(*) filter (where interaction_type = 'share') as shares,
        count(*) filter (where interaction_type = 'register') as registrations,
        count(*) filter (where interaction_type = 'attend') as attendances,
        count(*) filter (where interaction_type = 'dismiss') as dismissals,
        sum(weight) as engagement_weight,
        -- In double precision: exp() of a numeric is computed digit by digit, many times slower.
        sum(
            weight * exp(
                ln(2.0::double precision)
                * extract(epoch from (occurred_at - occurred_date::timestamp at time zone 'utc'))::double precision
                / (86400.0 * {{ var('popularity_half_life_days') }})
            )
        ) as weight_growth,
        max(occurred_at) as last_interaction_at
    from {{ ref('fct_interactions') }}
    {% if is_incremental() %}
    -- `= any(array(...))`, not `in (select ...)`: the planner then expects a few days and reads
    -- them through the index on occurred_date, where it would scan all interactions.
    where occurred_date = any(array(select occurred_date from changed_dates))
    {% endif %}
    group by event_id, occurred_date
)

select
    event_id,
    activity_date,
    interactions,
    views,
    clicks,
    favorites,
    shares,
    registrations,
    attendances,
    dismissals,
    engagement_weight,
    weight_growth,
    {{ var('popularity_half_life_days') }} as half_life_days,
    last_interaction_at,
    {{ interactions_watermark() }} as interactions_watermark
from daily
{% if is_incremental() %}
union all
-- Days left without interactions: tombstones that delete the day's stale rows.
select
    null as event_id,
    occurred_date as activity_date,
    0 as interactions,
    0 as views,
    0 as clicks,
    0 as favorites,
    0 as shares,
    0 as registrations,
    0 as attendances,
    0 as dismissals,
    0 as engagement_weight,
    0 as weight_growth,
    {{ var('popularity_half_life_days') }} as half_life_days,
    null as last_interaction_at,
    {{ interactions_watermark() }} as interactions_watermark
from changed_dates
where not exists (
    select 1
    from daily
    where daily.activity_date = changed_dates.occurred_date
)
{% endif %}
