with registrations as (
    select
        registration_id,
        user_id,
        event_id,
        status,
        created_at,
        updated_at
    from {{ ref('stg_raw__registrations') }}
),

events as (
    select
        event_id,
        starts_at
    from {{ ref('dim_events') }}
)

select
    registrations.registration_id,
    registrations.user_id,
    registrations.event_id,
    registrations.status,
    registrations.status in ('confirmed', 'attended') as holds_seat,
    registrations.created_at,
    (registrations.created_at at time zone 'utc')::date as registered_date,
    registrations.updated_at,
    events.starts_at as event_starts_at,
    (events.starts_at at time zone 'utc')::date
    - (registrations.created_at at time zone 'utc')::date as days_before_event
from registrations
left join events
    on registrations.event_id = events.event_id
