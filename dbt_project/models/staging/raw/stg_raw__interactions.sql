-- Reads the partitioned parent table. A plain projection, so filters on `loaded_at` or
-- `occurred_at` from the incremental fact reach the partitions (no de-duplication here).
with source as (
    select
        interaction_id,
        user_id,
        event_id,
        type,
        occurred_at,
        source,
        context,
        model_version,
        _source_file,
        _loaded_at
    from {{ source('raw', 'interactions') }}
)

select
    interaction_id,
    user_id,
    event_id,
    type as interaction_type,
    occurred_at,
    source,
    context,
    model_version,
    _source_file as source_file,
    _loaded_at as loaded_at
from source
