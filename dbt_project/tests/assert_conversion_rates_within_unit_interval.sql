-- Conversion rates are shares: between 0 and 1 wherever they are defined.
select
    'mart_event_funnel' as mart,
    event_id::text as row_key
from {{ ref('mart_event_funnel') }}
where view_to_click_rate not between 0 and 1
    or click_to_register_rate not between 0 and 1
    or register_to_attend_rate not between 0 and 1
union all
select
    'mart_recommendation_performance' as mart,
    model_version as row_key
from {{ ref('mart_recommendation_performance') }}
where click_through_rate not between 0 and 1
    or registration_rate not between 0 and 1
union all
select
    'mart_user_retention' as mart,
    cohort_week::text || '/' || weeks_since_signup::text as row_key
from {{ ref('mart_user_retention') }}
where retention_rate not between 0 and 1
