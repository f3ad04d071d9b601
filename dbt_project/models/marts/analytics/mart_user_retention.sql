{#- `rebuild_retention_in_full` counts every cell again, as a full refresh does (unit tests set it:
    they must not read the previous build of the warehouse). -#}
{%- set in_full = flags.FULL_REFRESH or var('rebuild_retention_in_full', false) -%}
{%- set previous = none if in_full else load_relation(this) -%}
-- depends_on: {{ ref('fct_interactions') }}

-- Per weekly sign-up cohort and week since sign-up: how many of the cohort were active that week.
-- A small table rebuilt on every run; counting a cell's active users is the costly part, so when
-- the previous build exists only the cells that can have changed are counted again: those the
-- interactions written or replaced since its watermark fall in, and every cell of a cohort whose
-- size changed. The others keep the counts of the previous build.
with users as (
    select
        user_id,
        signup_date,
        date_trunc('week', signup_date)::date as cohort_week
    from {{ ref('dim_users') }}
),

cohorts as (
    select
        cohort_week,
        count(*) as cohort_size
    from users
    group by cohort_week
),

last_activity as (
    select max(activity_date) as last_date
    from {{ ref('fct_user_activity_daily') }}
),

cohort_weeks as (
    select
        cohorts.cohort_week,
        cohorts.cohort_size,
        weeks_since_signup,
        -- The cohort's last sign-up (cohort_week + 6) has lived week w by day + 7w + 6.
        cohorts.cohort_week + 7 * weeks_since_signup + 12 <= last_activity.last_date as is_complete
    from cohorts
    cross join last_activity
    cross join generate_series(
        0, greatest(((last_activity.last_date - cohorts.cohort_week) / 7), 0)
    ) as weeks_since_signup
    where last_activity.last_date is not null
),

{% if previous is not none %}
changed_cells as (
    select distinct
        users.cohort_week,
        (changed_interactions.occurred_date - users.signup_date) / 7 as weeks_since_signup
    from ({{ changed_interaction_keys(own_watermark(previous)) }}) as changed_interactions
    inner join users
        on changed_interactions.user_id = users.user_id
    where changed_interactions.occurred_date >= users.signup_date
    union
    select
        cohort_weeks.cohort_week,
        cohort_weeks.weeks_since_signup
    from cohort_weeks
    left join (select distinct cohort_week, cohort_size from {{ previous }}) as built
        on cohort_weeks.cohort_week = built.cohort_week
    where built.cohort_size is distinct from cohort_weeks.cohort_size
),

-- The days on which a user of the cohort can be in that week of their life.
changed_days as (
    select distinct changed_cells.cohort_week + 7 * changed_cells.weeks_since_signup + day_offset as activity_date
    from changed_cells
    cross join generate_series(0, 12) as day_offset
),
{% endif %}

active as (
    select
        users.cohort_week,
        (activity.activity_date - users.signup_date) / 7 as weeks_since_signup,
        count(distinct activity.user_id) as active_users
    from {{ ref('fct_user_activity_daily') }} as activity
    inner join users
        on activity.user_id = users.user_id
    where activity.activity_date >= users.signup_date
    {% if previous is not none %}
        -- `= any(array(...))`, not `in (select ...)`: the planner then expects a few days and reads
        -- them through the index on activity_date, where it would scan all user days.
        and activity.activity_date = any(array(select activity_date from changed_days))
        and (users.cohort_week, (activity.activity_date - users.signup_date) / 7) in (
            select cohort_week, weeks_since_signup from changed_cells
        )
    {% endif %}
    group by users.cohort_week, (activity.activity_date - users.signup_date) / 7
),

counted as (
    select
        cohort_weeks.cohort_week,
        cohort_weeks.weeks_since_signup,
        cohort_weeks.cohort_size,
        cohort_weeks.is_complete,
        {% if previous is not none %}
        case
            when changed_cells.cohort_week is not null then coalesce(active.active_users, 0)
            else coalesce(built.active_users, 0)
        end as active_users
        {% else %}
        coalesce(active.active_users, 0) as active_users
        {% endif %}
    from cohort_weeks
    left join active
        on cohort_weeks.cohort_week = active.cohort_week
        and cohort_weeks.weeks_since_signup = active.weeks_since_signup
    {% if previous is not none %}
    left join changed_cells
        on cohort_weeks.cohort_week = changed_cells.cohort_week
        and cohort_weeks.weeks_since_signup = changed_cells.weeks_since_signup
    left join {{ previous }} as built
        on cohort_weeks.cohort_week = built.cohort_week
        and cohort_weeks.weeks_since_signup = built.weeks_since_signup
    {% endif %}
)

select
    cohort_week,
    weeks_since_signup,
    cohort_size,
    active_users,
    active_users::double precision / cohort_size as retention_rate,
    is_complete,
    {{ interactions_watermark() }} as interactions_watermark
from counted
