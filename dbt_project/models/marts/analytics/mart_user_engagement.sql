{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='replace_keys',
        tombstone='dau is null',
        on_schema_change='append_new_columns',
    )
}}

-- depends_on: {{ ref('fct_interactions') }}

-- Per UTC day: daily, weekly (7-day) and monthly (30-day) active users, and sign-ups.
-- A user active on day d counts toward the window ending on each of d .. d + window - 1; those
-- spans are cut where the user's next active day starts, so each user is counted once per day.
-- Incremental: a run recomputes the days from the first one whose activity or sign-ups changed
-- since its last run to the last day with activity; that needs only the activity of the 29 days
-- before it (older activity has left every window by then).
with
{% if is_incremental() %}
signups_now as (
    select
        signup_date,
        count(*) as new_users
    from {{ ref('dim_users') }}
    group by signup_date
),

first_changed as (
    select min(activity_date) as first_date
    from (
        select occurred_date as activity_date
        from ({{ changed_interaction_keys(own_watermark()) }}) as changed_interactions
        union all
        select built.activity_date
        from {{ this }} as built
        left join signups_now
            on built.activity_date = signups_now.signup_date
        where coalesce(signups_now.new_users, 0) <> built.new_users
    ) as changed
),
{% endif %}

activity as (
    select
        user_id,
        activity_date,
        lead(activity_date) over (partition by user_id order by activity_date) as next_activity_date
    from {{ ref('fct_user_activity_daily') }}
    {% if is_incremental() %}
    where activity_date >= (select first_date - 29 from first_changed)
    {% endif %}
),

bounds as (
    select
        min(activity_date) as first_date,
        max(activity_date) as last_date
    from {{ ref('fct_user_activity_daily') }}
),

spine as (
    select generated_day::date as activity_date
    from bounds
    cross join generate_series(
        {% if is_incremental() %}
        greatest(bounds.first_date, (select first_date - 29 from first_changed)),
        {% else %}
        bounds.first_date,
        {% endif %}
        bounds.last_date,
        interval '1 day'
    ) as generated_day
),

window_changes as (
    {% for window_days, window_name in [(1, 'dau'), (7, 'wau'), (30, 'mau')] %}
    select
        '{{ window_name }}' as metric,
        activity_date as change_date,
        1 as change
    from activity
    union all
    select
        '{{ window_name }}' as metric,
        least(coalesce(next_activity_date, activity_date + {{ window_days }}), activity_date + {{ window_days }}) as change_date,
        -1 as change
    from activity
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

daily_changes as (
    select
        change_date,
        sum(change) filter (where metric = 'dau') as dau_change,
        sum(change) filter (where metric = 'wau') as wau_change,
        sum(change) filter (where metric = 'mau') as mau_change
    from window_changes
    group by change_date
),

signups as (
    select
        signup_date,
        count(*) as new_users
    from {{ ref('dim_users') }}
    group by signup_date
),

running as (
    select
        spine.activity_date,
        sum(coalesce(daily_changes.dau_change, 0)) over (order by spine.activity_date) as dau,
        sum(coalesce(daily_changes.wau_change, 0)) over (order by spine.activity_date) as wau,
        sum(coalesce(daily_changes.mau_change, 0)) over (order by spine.activity_date) as mau,
        coalesce(signups.new_users, 0) as new_users
    from spine
    left join daily_changes
        on spine.activity_date = daily_changes.change_date
    left join signups
        on spine.activity_date = signups.signup_date
)

select
    activity_date,
    dau::bigint as dau,
    wau::bigint as wau,
    mau::bigint as mau,
    dau::double precision / nullif(mau, 0) as dau_mau_ratio,
    new_users,
    {{ interactions_watermark() }} as interactions_watermark
from running
{% if is_incremental() %}
where activity_date >= (select first_date from first_changed)
union all
-- Days no longer between the first and the last day with activity: tombstones.
select
    built.activity_date,
    null as dau,
    null as wau,
    null as mau,
    null as dau_mau_ratio,
    0 as new_users,
    {{ interactions_watermark() }} as interactions_watermark
from {{ this }} as built
cross join bounds
where built.activity_date >= (select first_date from first_changed)
    and (built.activity_date < bounds.first_date or built.activity_date > bounds.last_date)
{% endif %}
