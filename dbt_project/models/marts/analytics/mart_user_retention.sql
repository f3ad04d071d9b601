-- Per weekly sign-up cohort and week since sign-up: how many of the cohort were active that week.
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

active as (
    select
        users.cohort_week,
        (activity.activity_date - users.signup_date) / 7 as weeks_since_signup,
        count(distinct activity.user_id) as active_users
    from {{ ref('fct_user_activity_daily') }} as activity
    inner join users
        on activity.user_id = users.user_id
    where activity.activity_date >= users.signup_date
    group by users.cohort_week, (activity.activity_date - users.signup_date) / 7
)

select
    cohort_weeks.cohort_week,
    cohort_weeks.weeks_since_signup,
    cohort_weeks.cohort_size,
    coalesce(active.active_users, 0) as active_users,
    coalesce(active.active_users, 0)::double precision / cohort_weeks.cohort_size as retention_rate,
    cohort_weeks.is_complete
from cohort_weeks
left join active
    on cohort_weeks.cohort_week = active.cohort_week
    and cohort_weeks.weeks_since_signup = active.weeks_since_signup
