{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='replace_keys',
        tombstone='user_id is null',
        on_schema_change='append_new_columns',
        post_hook=['analyze {{ this }}'],
        indexes=[
            {'columns': ['activity_date', 'user_id'], 'unique': True},
            {'columns': ['interactions_watermark']},
        ],
    )
}}

-- One row per user and UTC day with at least one interaction: the base of DAU/WAU/MAU and
-- retention. Incremental: a run recomputes whole days, those with interactions written or
-- replaced since its last run (a day left without any is deleted).
with
{% if is_incremental() %}
changed_dates as (
    select distinct occurred_date
    from ({{ changed_interaction_keys(own_watermark()) }}) as changed_interactions
),
{% endif %}

daily as (
    select
        user_id,
        occurred_date as activity_date,
        count(*) as interaction_count,
        count(*) filter (where is_positive) as positive_interaction_count,
        count(distinct event_id) as events_touched
    from {{ ref('fct_interactions') }}
    {% if is_incremental() %}
    -- `= any(array(...))`, not `in (select ...)`: the planner then expects a few days and reads
    -- them through the index on occurred_date, where it would scan all interactions.
    where occurred_date = any(array(select occurred_date from changed_dates))
    {% endif %}
    group by user_id, occurred_date
)

select
    user_id,
    activity_date,
    interaction_count,
    positive_interaction_count,
    events_touched,
    {{ interactions_watermark() }} as interactions_watermark
from daily
{% if is_incremental() %}
union all
-- Days left without interactions: tombstones that delete the day's stale rows.
select
    null as user_id,
    occurred_date as activity_date,
    0 as interaction_count,
    0 as positive_interaction_count,
    0 as events_touched,
    {{ interactions_watermark() }} as interactions_watermark
from changed_dates
where not exists (
    select 1
    from daily
    where daily.activity_date = changed_dates.occurred_date
)
{% endif %}
