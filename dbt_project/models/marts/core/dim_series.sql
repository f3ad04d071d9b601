-- One row per recurring series (see int_event_series for how events get one): who runs it,
-- what it is called, where it usually meets and how many instances it has had and has coming.
with events as (
    select
        event_id,
        title,
        normalized_title,
        series_id,
        series_source,
        organizer_id,
        venue_id,
        starts_at,
        status
    from {{ ref('dim_events') }}
),

usual_venue as (
    select distinct on (series_id)
        series_id,
        venue_id
    from events
    where venue_id is not null
    group by series_id, venue_id
    order by series_id, count(*) desc, venue_id
),

latest_title as (
    select distinct on (series_id)
        series_id,
        title
    from events
    order by series_id, starts_at desc, event_id desc
)

select
    e.series_id,
    min(e.series_source) as series_source,
    min(e.organizer_id) as organizer_id,
    min(e.normalized_title) as normalized_title,
    t.title as latest_title,
    v.venue_id as usual_venue_id,
    count(*) as events,
    count(*) filter (where e.starts_at > current_timestamp and e.status = 'published')
        as upcoming_events,
    min(e.starts_at) as first_starts_at,
    max(e.starts_at) as last_starts_at
from events as e
inner join latest_title as t on t.series_id = e.series_id
left join usual_venue as v on v.series_id = e.series_id
group by e.series_id, t.title, v.venue_id
