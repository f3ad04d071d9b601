{{ config(indexes=[{'columns': ['user_id', 'activity_date'], 'unique': True}]) }}

-- One row per user and UTC day with at least one interaction: the base of DAU/WAU/MAU and
-- retention.
select
    user_id,
    occurred_date as activity_date,
    count(*) as interaction_count,
    count(*) filter (where is_positive) as positive_interaction_count,
    count(distinct event_id) as events_touched
from {{ ref('fct_interactions') }}
group by user_id, occurred_date
