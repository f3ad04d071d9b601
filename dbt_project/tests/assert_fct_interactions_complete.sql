-- Incremental runs miss nothing: every interaction id in raw is in fct_interactions. Each run
-- checks what it was asked to pick up: the days between the vars `interactions_from` and
-- `interactions_to` when set, else what was loaded within the lookback of the newest load.
select distinct raw_interactions.interaction_id
from {{ ref('stg_raw__interactions') }} as raw_interactions
{% if var('interactions_from') and var('interactions_to') %}
where raw_interactions.occurred_at >= '{{ var("interactions_from") }}'::timestamptz
    and raw_interactions.occurred_at < '{{ var("interactions_to") }}'::timestamptz
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
