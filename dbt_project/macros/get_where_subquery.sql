{#
    The `where` config of a data test may ask for the newest value of a column of the tested
    relation as `__newest(column)__`, e.g. `transformed_at = __newest(transformed_at)__`: tests
    on the incremental facts check the rows their latest run wrote (an index finds them) instead
    of scanning millions. The value is read when the test runs and written in as a literal, so
    the planner sees how few rows match.
#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set filter = namespace(sql=where) -%}
        {%- for column in modules.re.findall('__newest[(]([a-z_]+)[)]__', where) -%}
            {%- set newest = 'null' -%}
            {%- if execute -%}
                {%- set value = run_query(
                    'select max(' ~ column ~ ')::text from ' ~ relation
                ).columns[0].values()[0] -%}
                {%- set newest = "'" ~ value ~ "'" if value is not none else 'null' -%}
            {%- endif -%}
            {%- set filter.sql = filter.sql | replace('__newest(' ~ column ~ ')__', newest) -%}
        {%- endfor -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ filter.sql }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
