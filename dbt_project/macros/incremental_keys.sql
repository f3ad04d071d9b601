{#
    How the incremental marts find what changed.

    `fct_interactions` stamps every row it writes with `transformed_at` (the start of that dbt
    run) and, before replacing a row (a re-delivered interaction id), records the replaced row's
    keys in `fct_interactions_replaced` (strategy `delete_insert_logged` below). The facts built
    on it keep, on every row they write, `interactions_watermark`: the newest `transformed_at` of
    fct_interactions at that build. So on their next run, the keys (user, event, UTC day) that
    changed are those of the rows stamped after their watermark plus those of the rows replaced
    after it; everything else is as they last computed it.
#}

{% macro replaced_interactions_relation() -%}
    {%- set fct = ref('fct_interactions') -%}
    {{ fct.schema }}.{{ fct.identifier }}_replaced
{%- endmacro %}

{# The watermark to stamp on the rows this run writes: the newest transformed_at in the fact. #}
{% macro interactions_watermark() -%}
    (select max(transformed_at) from {{ ref('fct_interactions') }})
{%- endmacro %}

{# (user_id, event_id, occurred_date) of interactions written or replaced after `since`. #}
{% macro changed_interaction_keys(since) -%}
    select
        user_id,
        event_id,
        occurred_date
    from {{ ref('fct_interactions') }}
    where transformed_at > {{ since }}
    union all
    select
        user_id,
        event_id,
        occurred_date
    from {{ replaced_interactions_relation() }}
    where replaced_at > {{ since }}
{%- endmacro %}

{#
    The watermark the rows of `relation` (default: this model) carry, -infinity while it has none.
    Read when the model runs and written into its SQL as a literal, so the planner can estimate
    how few rows are newer (a subquery there reads as a third of the table, and the plan that
    follows scans millions of rows).
#}
{% macro own_watermark(relation=none) -%}
    {%- set relation = relation if relation is not none else this -%}
    {%- if execute -%}
        {%- set newest = run_query(
            "select coalesce(max(interactions_watermark), '-infinity'::timestamptz)::text from "
            ~ relation
        ).columns[0].values()[0] -%}
        '{{ newest }}'::timestamptz
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#
    Incremental strategy `delete_insert_logged`: delete+insert on the unique key, which first
    appends the `log_columns` of the rows about to be replaced, with the time of the run, to
    `<model>_replaced` (created by the model's pre-hook).
#}
{% macro get_incremental_delete_insert_logged_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set log_columns = config.get('log_columns') -%}
    insert into {{ target.schema }}.{{ target.identifier }}_replaced
        ({{ log_columns | join(', ') }}, replaced_at)
    select
        {% for column in log_columns %}replaced.{{ column }}, {% endfor %}
        '{{ run_started_at }}'::timestamptz
    from {{ target }} as replaced
    where replaced.{{ unique_key }} in (select {{ unique_key }} from {{ source }});

    {{ get_incremental_delete_insert_sql(arg_dict) }}
{% endmacro %}

{#
    Incremental strategy `replace_keys`: delete+insert on the unique key, except that rows
    matching the model's `tombstone` condition only delete their key. A model returns such a row
    for a key it recomputed and found empty (its interactions moved to another key), so the
    stale row goes and nothing takes its place.
#}
{% macro get_incremental_replace_keys_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    -- The new rows are a few thousand: with statistics the delete probes the key's index.
    analyze {{ source }};

    delete from {{ target }}
    where ({{ keys | join(', ') }}) in (
        select {{ keys | join(', ') }}
        from {{ source }}
    );

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
    where ({{ config.get('tombstone') }}) is not true;
{% endmacro %}
