-- One row per venue the feeds name: its most recent name, its city (the most common one given;
-- feeds often leave it out), the median of the coordinates given, and how many events and
-- organisers it has hosted. Online events have no venue.
with events as (
    select
        event_id,
        venue_id,
        venue_name,
        city,
        lat,
        lng,
        organizer_id,
        series_id,
        starts_at,
        updated_at
    from {{ ref('dim_events') }}
    where venue_id is not null
),

latest_name as (
    select distinct on (venue_id)
        venue_id,
        venue_name
    from events
    where venue_name is not null
    order by venue_id, updated_at desc, event_id desc
),

usual_city as (
    select distinct on (venue_id)
        venue_id,
        city
    from events
    where city is not null
    group by venue_id, city
    order by venue_id, count(*) desc, city
)

select
    e.venue_id,
    n.venue_name,
    c.city,
    percentile_cont(0.5) within group (order by e.lat) as lat,
    percentile_cont(0.5) within group (order by e.lng) as lng,
    count(*) as events,
    count(distinct e.organizer_id) as organizers,
    count(distinct e.series_id) as series,
    min(e.starts_at) as first_starts_at,
    max(e.starts_at) as last_starts_at
from events as e
left join latest_name as n on n.venue_id = e.venue_id
left join usual_city as c on c.venue_id = e.venue_id
group by e.venue_id, n.venue_name, c.city
