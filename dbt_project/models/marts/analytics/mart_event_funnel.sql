-- Per event: distinct users at each stage (view -> click -> register -> attend, cumulative), the
-- conversion between stages, and how full the event is.
with events as (
    select
        event_id,
        title,
        category,
        status,
        starts_at,
        capacity
    from {{ ref('dim_events') }}
),

stages as (
    select
        event_id,
        count(*) filter (where reached_view) as viewers,
        count(*) filter (where reached_click) as clickers,
        count(*) filter (where reached_register) as registrants,
        count(*) filter (where reached_attend) as attendees
    from {{ ref('fct_user_event_activity') }}
    group by event_id
),

registrations as (
    select
        event_id,
        count(*) filter (where holds_seat) as seats_taken,
        count(*) filter (where status = 'waitlisted') as waitlisted,
        count(*) filter (where status = 'cancelled') as cancelled
    from {{ ref('fct_registrations') }}
    group by event_id
),

joined as (
    select
        events.event_id,
        events.title,
        events.category,
        events.status,
        events.starts_at,
        events.capacity,
        coalesce(stages.viewers, 0) as viewers,
        coalesce(stages.clickers, 0) as clickers,
        coalesce(stages.registrants, 0) as registrants,
        coalesce(stages.attendees, 0) as attendees,
        coalesce(registrations.seats_taken, 0) as seats_taken,
        coalesce(registrations.waitlisted, 0) as waitlisted,
        coalesce(registrations.cancelled, 0) as cancelled_registrations
    from events
    left join stages
        on events.event_id = stages.event_id
    left join registrations
        on events.event_id = registrations.event_id
)

select
    event_id,
    title,
    category,
    status,
    starts_at,
    capacity,
    viewers,
    clickers,
    registrants,
    attendees,
    clickers::double precision / nullif(viewers, 0) as view_to_click_rate,
    registrants::double precision / nullif(clickers, 0) as click_to_register_rate,
    registrants::double precision / nullif(viewers, 0) as view_to_register_rate,
    attendees::double precision / nullif(registrants, 0) as register_to_attend_rate,
    seats_taken,
    waitlisted,
    cancelled_registrations,
    seats_taken::double precision / nullif(capacity, 0) as fill_rate
from joined
