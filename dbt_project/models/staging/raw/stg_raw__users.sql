-- Landed users, pseudonymised: the e-mail is reduced to its domain, the name is dropped.
with source as (
    select
        user_id,
        email,
        role,
        home_city,
        home_lat,
        home_lng,
        interests,
        created_at,
        updated_at,
        _source,
        _loaded_at
    from {{ source('raw', 'users') }}
)

select
    user_id,
    role,
    nullif(lower(split_part(email, '@', 2)), '') as email_domain,
    nullif(trim(home_city), '') as home_city,
    home_lat,
    home_lng,
    coalesce(interests, '{}'::text[]) as interests,
    created_at,
    updated_at,
    _source as source_file,
    _loaded_at as loaded_at
from source
