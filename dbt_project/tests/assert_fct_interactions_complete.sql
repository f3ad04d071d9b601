-- Incremental runs miss nothing: every interaction id in raw is in fct_interactions.
select distinct raw_interactions.interaction_id
from {{ ref('stg_raw__interactions') }} as raw_interactions
where not exists (
    select 1
    from {{ ref('fct_interactions') }} as fct
    where fct.interaction_id = raw_interactions.interaction_id
)
