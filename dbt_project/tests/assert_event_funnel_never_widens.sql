-- Business rule: each funnel stage holds at most as many users as the one before it.
select
    event_id,
    viewers,
    clickers,
    registrants,
    attendees
from {{ ref('mart_event_funnel') }}
where clickers > viewers
    or registrants > clickers
    or attendees > registrants
