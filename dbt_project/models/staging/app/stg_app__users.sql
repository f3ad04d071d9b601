-- Users as the API holds them, pseudonymised: no name, no password hash, only the e-mail domain.
with source as (
    select
        id,
        email,
        role,
        home_city,
        home_lat,
        home_lng,
        interests,
        created_at,
        updated_at
    from {{ source('app', 'users') }}
)

select
    id as user_id,
    role,
    nullif(lower(split_part(email, '@', 2)), '') as email_domain,
    nullif(trim(home_city), '') as home_city,
    home_lat,
    home_lng,
    coalesce(interests, '{}'::text[]) as interests,
    created_at,
    updated_at
from source
