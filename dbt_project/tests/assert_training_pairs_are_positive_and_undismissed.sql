-- No training pair was ever dismissed, and each weight is the weight of a positive type. Checked
-- on the pairs the latest run of fct_user_event_activity wrote (every pair after a full build).
{%- set pairs = ref('fct_user_event_activity') -%}
{%- set newest = 'null' -%}
{%- if execute -%}
    {%- set value = run_query('select max(interactions_watermark)::text from ' ~ pairs).columns[0].values()[0] -%}
    {%- set newest = "'" ~ value ~ "'" if value is not none else 'null' -%}
{%- endif %}
with written_pairs as (
    select
        user_id,
        event_id
    from {{ pairs }}
    where interactions_watermark = {{ newest }}
),

dismissals as (
    select distinct
        fct.user_id,
        fct.event_id
    from written_pairs
    inner join {{ ref('fct_interactions') }} as fct
        on written_pairs.user_id = fct.user_id
        and written_pairs.event_id = fct.event_id
    where fct.interaction_type = 'dismiss'
),

positive_weights as (
    select weight
    from {{ ref('interaction_type_weights') }}
    where is_positive
)

select
    training.user_id,
    training.event_id,
    training.weight
from {{ ref('ml_training_interactions') }} as training
inner join written_pairs
    on training.user_id = written_pairs.user_id
    and training.event_id = written_pairs.event_id
where exists (
    select 1
    from dismissals
    where dismissals.user_id = training.user_id
        and dismissals.event_id = training.event_id
)
    or training.weight not in (select weight from positive_weights)
