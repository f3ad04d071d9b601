-- No training pair was ever dismissed, and each weight is the weight of a positive type. After a
-- full build every pair is checked; after an incremental run, the pairs that run wrote.
{%- set pairs = ref('fct_user_event_activity') -%}
{%- set written = none -%}
{%- if execute -%}
    {%- set marks = run_query(
        'select min(interactions_watermark)::text, max(interactions_watermark)::text from ' ~ pairs
    ).rows[0] -%}
    {%- if marks[0] != marks[1] -%}
        {%- set written = marks[1] -%}
    {%- endif -%}
{%- endif %}
with dismissals as (
    select distinct
        fct.user_id,
        fct.event_id
    from {{ ref('fct_interactions') }} as fct
    {% if written is not none %}
    inner join {{ pairs }} as pairs
        on fct.user_id = pairs.user_id
        and fct.event_id = pairs.event_id
        and pairs.interactions_watermark = '{{ written }}'
    {% endif %}
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
{% if written is not none %}
inner join {{ pairs }} as pairs
    on training.user_id = pairs.user_id
    and training.event_id = pairs.event_id
    and pairs.interactions_watermark = '{{ written }}'
{% endif %}
where exists (
    select 1
    from dismissals
    where dismissals.user_id = training.user_id
        and dismissals.event_id = training.event_id
)
    or training.weight not in (select weight from positive_weights)
