-- Per organizer: their catalogue, how full their events get, and the reach of their events.
with events as (
    select
        event_id,
        organizer_id,
        status,
        starts_at,
        capacity,
        price
    from {{ ref('dim_events') }}
    where organizer_id is not null
),

funnel as (
    select
        event_id,
        viewers,
        registrants,
        attendees,
        seats_taken
    from {{ ref('mart_event_funnel') }}
),

popularity as (
    select
        event_id,
        views,
        popularity_score
    from {{ ref('mart_event_popularity') }}
),

reach as (
    select
        organizer_id,
        distinct_users_reached
    from {{ ref('mart_organizer_reach') }}
),

per_organizer as (
    select
        events.organizer_id,
        count(*) as events_total,
        count(*) filter (where events.status = 'published') as events_published,
        count(*) filter (where events.status = 'cancelled') as events_cancelled,
        count(*) filter (where events.status = 'completed') as events_completed,
        count(*) filter (
            where events.status = 'published' and events.starts_at > current_timestamp
        ) as events_upcoming,
        sum(events.capacity) filter (where events.status <> 'cancelled')::bigint as total_capacity,
        sum(funnel.seats_taken) filter (where events.status <> 'cancelled')::bigint as seats_taken,
        sum(funnel.viewers)::bigint as viewers,
        sum(funnel.registrants)::bigint as registrants,
        sum(funnel.attendees)::bigint as attendees,
        sum(popularity.views)::bigint as views,
        sum(popularity.popularity_score) as popularity_score,
        avg(events.price) as avg_price,
        min(events.starts_at) as first_event_starts_at,
        max(events.starts_at) as last_event_starts_at
    from events
    left join funnel
        on events.event_id = funnel.event_id
    left join popularity
        on events.event_id = popularity.event_id
    group by events.organizer_id
)

select
    per_organizer.organizer_id,
    users.role as organizer_role,
    per_organizer.events_total,
    per_organizer.events_published,
    per_organizer.events_cancelled,
    per_organizer.events_completed,
    per_organizer.events_upcoming,
    coalesce(per_organizer.total_capacity, 0) as total_capacity,
    coalesce(per_organizer.seats_taken, 0) as seats_taken,
    coalesce(per_organizer.seats_taken, 0)::double precision
    / nullif(per_organizer.total_capacity, 0) as fill_rate,
    per_organizer.viewers,
    per_organizer.registrants,
    per_organizer.attendees,
    per_organizer.registrants::double precision
    / nullif(per_organizer.viewers, 0) as view_to_register_rate,
    per_organizer.views,
    coalesce(reach.distinct_users_reached, 0) as distinct_users_reached,
    per_organizer.popularity_score,
    round(per_organizer.avg_price, 2) as avg_price,
    per_organizer.first_event_starts_at,
    per_organizer.last_event_starts_at
from per_organizer
left join reach
    on per_organizer.organizer_id = reach.organizer_id
left join {{ ref('dim_users') }} as users
    on per_organizer.organizer_id = users.user_id
