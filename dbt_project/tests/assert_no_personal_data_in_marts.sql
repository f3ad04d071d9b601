-- Marts are pseudonymous: no column of theirs holds names, e-mail addresses or password hashes.
select
    table_name,
    column_name
from information_schema.columns
where table_schema = '{{ ref("dim_users").schema }}'
    and column_name in ('email', 'name', 'password_hash', 'full_name', 'phone')
