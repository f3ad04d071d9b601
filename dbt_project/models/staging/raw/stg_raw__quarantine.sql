-- The rejected record itself is left out: it may hold personal data and is for debugging in raw.
with source as (
    select
        id,
        dataset,
        source_file,
        line,
        reason,
        run_id,
        partition_key,
        quarantined_at
    from {{ source('raw', 'quarantine') }}
)

select
    id as quarantine_id,
    dataset,
    source_file,
    line,
    reason,
    run_id,
    partition_key,
    quarantined_at
from source
