{#
    The days of interactions a run of `fct_interactions` rebuilds, as (from, to) ISO dates of
    [from, to), or none (then it reads what arrived since its last run). From the vars
    `interactions_from` and `interactions_to` (a backfill by hand), else from the environment
    variables DBT_INTERACTIONS_FROM and DBT_INTERACTIONS_TO, which is how the Dagster daily
    partitions pass them: dbt re-parses the whole project when vars differ from those of its
    saved parse, and the files that read an environment variable while parsing when its value
    changes; read only when executing, the window re-parses nothing.
#}
{% macro interactions_window() -%}
    {%- if not execute -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set start = var('interactions_from') or env_var('DBT_INTERACTIONS_FROM', '') -%}
    {%- set end = var('interactions_to') or env_var('DBT_INTERACTIONS_TO', '') -%}
    {%- do return((start, end) if start and end else none) -%}
{%- endmacro %}
