-- The recurring series of every event. A feed's series id wins; events the feed gave none get
-- the id of a fed series with the same organiser and normalised title when there is one (the
-- same series delivered through another feed), and otherwise a series derived from organiser
-- and normalised title, so "Python Meetup #41" and "#42" of one organiser share it.
with events as (
    select
        event_id,
        organizer_id,
        series_id,
        {{ normalized_title('title') }} as normalized_title
    from {{ ref('int_events_unioned') }}
),

fed as (
    select
        organizer_id,
        normalized_title,
        min(series_id) as series_id
    from events
    where series_id is not null and normalized_title is not null
    group by organizer_id, normalized_title
)

select
    e.event_id,
    e.organizer_id,
    e.normalized_title,
    coalesce(
        e.series_id::text,
        f.series_id::text,
        'd' || left(md5(coalesce(e.organizer_id::text, '') || '/' || coalesce(e.normalized_title, e.event_id::text)), 15)
    ) as series_id,
    case
        when e.series_id is not null then 'feed'
        when f.series_id is not null then 'matched'
        else 'derived'
    end as series_source
from events as e
left join fed as f
    on f.organizer_id is not distinct from e.organizer_id
    and f.normalized_title = e.normalized_title
