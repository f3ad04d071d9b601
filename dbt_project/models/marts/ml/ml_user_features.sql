-- User attributes the recommenders use, one row per user (pseudonymous).
select
    user_id::bigint as user_id,
    home_city,
    home_lat::double precision as home_lat,
    home_lng::double precision as home_lng,
    interests::text[] as interests,
    created_at
from {{ ref('dim_users') }}
