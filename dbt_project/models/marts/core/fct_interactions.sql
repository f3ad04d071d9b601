{{
    config(
        materialized='incremental',
        unique_key='interaction_id',
        incremental_strategy='delete_insert_logged',
        log_columns=['user_id', 'event_id', 'occurred_date'],
        on_schema_change='append_new_columns',
        post_hook=['analyze {{ this }}'],
        indexes=[
            {'columns': ['interaction_id'], 'unique': True},
            {'columns': ['loaded_at']},
            {'columns': ['transformed_at']},
            {'columns': ['user_id', 'event_id']},
            {'columns': ['occurred_date']},
        ],
        pre_hook=[
            "create table if not exists {{ this.schema }}.{{ this.identifier }}_replaced (
                user_id bigint, event_id bigint, occurred_date date,
                replaced_at timestamptz not null)",
            "{% if not is_incremental() %}truncate {{ this.schema }}.{{ this.identifier }}_replaced{% endif %}",
        ],
    )
}}

-- One row per interaction id. Incremental runs read only what arrived since the newest row already
-- here (minus a lookback, for loads that committed late), or the interactions that occurred in
-- a date range (a daily partition; macros/interactions_window.sql).
-- Each row carries the start of the run that wrote it (`transformed_at`), and the keys of the rows
-- a run replaces go to `fct_interactions_replaced`: the marts built on this fact read both to find
-- what changed since their last run (macros/incremental_keys.sql).
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
    {% set window = interactions_window() %}
    {% if window %}
    where occurred_at >= '{{ window[0] }}'::timestamptz
        and occurred_at < '{{ window[1] }}'::timestamptz
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
    deduplicated.loaded_at,
    '{{ run_started_at }}'::timestamptz as transformed_at
from deduplicated
left join weights
    on deduplicated.interaction_type = weights.interaction_type
