select
    user_id,
    organizer_id,
    created_at as followed_at
from {{ source('app', 'organizer_follows') }}
