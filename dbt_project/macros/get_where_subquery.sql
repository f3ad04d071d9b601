{#
    The `where` config of a data test may name the tested relation as `__this__`, e.g.
    `transformed_at = (select max(transformed_at) from __this__)`: tests on the incremental facts
    check the rows their last run wrote (an index finds them) instead of scanning millions.
#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where | replace('__this__', relation | string) }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
