-- Pseudonymous users: ids, role, location and interests; no name, e-mail or password hash.
with users as (
    select
        user_id,
        role,
        email_domain,
        home_city,
        home_lat,
        home_lng,
        interests,
        created_at,
        updated_at,
        record_origin
    from {{ ref('int_users_unioned') }}
)

select
    user_id,
    role,
    email_domain,
    home_city,
    home_lat,
    home_lng,
    interests,
    cardinality(interests) as interest_count,
    created_at,
    (created_at at time zone 'utc')::date as signup_date,
    updated_at,
    record_origin
from users
