-- Per dataset, UTC day and reason: how many rows ingestion rejected, from how many files.
select
    dataset,
    (quarantined_at at time zone 'utc')::date as quarantined_date,
    reason,
    count(*) as rows_quarantined,
    count(distinct source_file) as source_files,
    min(quarantined_at) as first_quarantined_at,
    max(quarantined_at) as last_quarantined_at
from {{ ref('stg_raw__quarantine') }}
group by dataset, (quarantined_at at time zone 'utc')::date, reason
