-- Per organizer: distinct users who reached the view stage of any of their events. Counting them
-- reads every (user, event) pair, so it is a model of its own: it runs beside the funnel and
-- popularity, which mart_organizer_performance also waits for, instead of after them.
with events as (
    select
        event_id,
        organizer_id
    from {{ ref('dim_events') }}
    where organizer_id is not null
)

select
    events.organizer_id,
    count(distinct stages.user_id) as distinct_users_reached
from {{ ref('fct_user_event_activity') }} as stages
inner join events
    on stages.event_id = events.event_id
where stages.reached_view
group by events.organizer_id
