-- Business rule: confirmed (and attended) registrations never exceed the event's capacity.
with seats as (
    select
        event_id,
        count(*) as seats_taken
    from {{ ref('fct_registrations') }}
    where holds_seat
    group by event_id
)

select
    seats.event_id,
    seats.seats_taken,
    events.capacity
from seats
inner join {{ ref('dim_events') }} as events
    on seats.event_id = events.event_id
where seats.seats_taken > events.capacity
