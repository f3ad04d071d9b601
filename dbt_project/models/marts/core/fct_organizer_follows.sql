-- Current follows of organisers, one row per follower and organiser: an explicit signal of
-- taste beside the interactions (the API puts followed organisers' events in recommendations).
select
    follows.user_id,
    follows.organizer_id,
    follows.followed_at,
    (follows.followed_at at time zone 'utc')::date as followed_date
from {{ ref('stg_app__organizer_follows') }} as follows
