-- Incremental runs miss nothing: every interaction id in raw is in fct_interactions. Each run
-- checks what it was asked to pick up: the days of `interactions_window()` when set, else what
-- was loaded within the lookback of the newest load.
{% set window = interactions_window() %}
select distinct raw_interactions.interaction_id
from {{ ref('stg_raw__interactions') }} as raw_interactions
{% if window %}
where raw_interactions.occurred_at >= '{{ window[0] }}'::timestamptz
    and raw_interactions.occurred_at < '{{ window[1] }}'::timestamptz
{% else %}
where raw_interactions.loaded_at >= (
    select coalesce(max(loaded_at), '-infinity'::timestamptz)
        - interval '{{ var("interactions_lookback_hours") }} hours'
    from {{ ref('fct_interactions') }}
)
{% endif %}
    and not exists (
        select 1
        from {{ ref('fct_interactions') }} as fct
        where fct.interaction_id = raw_interactions.interaction_id
    )
