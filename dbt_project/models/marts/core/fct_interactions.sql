{{
    config(
        materialized='incremental',
        unique_key='interaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['interaction_id'], 'unique': True},
            {'columns': ['loaded_at']},
        ],
    )
}}

-- One row per interaction id. Incremental runs read only what arrived since the newest row already
-- here (minus a lookback, for loads that committed late), or, with the vars `interactions_from`
-- and `interactions_to`, the interactions that occurred in that date range (a daily partition).
with new_interactions as (
    select
        interaction_id,
        user_id,
        event_id,
        interaction_type,
        occurred_at,
        source,
        model_version,
        source_file,
        loaded_at
    from {{ ref('stg_raw__interactions') }}
    {% if var('interactions_from') and var('interactions_to') %}
    where occurred_at >= '{{ var("interactions_from") }}'::timestamptz
        and occurred_at < '{{ var("interactions_to") }}'::timestamptz
    {% elif is_incremental() %}
    where loaded_at > (
        select coalesce(max(loaded_at), '-infinity'::timestamptz)
            - interval '{{ var("interactions_lookback_hours") }} hours'
        from {{ this }}
    )
    {% endif %}
),

-- A re-delivered interaction (same id, possibly another day's partition): the latest load wins.
deduplicated as (
    select distinct on (interaction_id)
        interaction_id,
        user_id,
        event_id,
        interaction_type,
        occurred_at,
        source,
        model_version,
        source_file,
        loaded_at
    from new_interactions
    order by interaction_id, loaded_at desc, occurred_at desc
),

weights as (
    select
        interaction_type,
        weight,
        is_positive
    from {{ ref('interaction_type_weights') }}
)

select
    deduplicated.interaction_id,
    deduplicated.user_id,
    deduplicated.event_id,
    deduplicated.interaction_type,
    deduplicated.occurred_at,
    (deduplicated.occurred_at at time zone 'utc')::date as occurred_date,
    deduplicated.source,
    deduplicated.model_version,
    coalesce(weights.weight, 0)::double precision as weight,
    coalesce(weights.is_positive, false) as is_positive,
    deduplicated.source_file,
    deduplicated.loaded_at
from deduplicated
left join weights
    on deduplicated.interaction_type = weights.interaction_type
