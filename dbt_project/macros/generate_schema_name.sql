{#
    Models land in the schema they configure (`staging`, `intermediate`, `marts`), not in
    `<target schema>_<custom schema>`: analysts, the ML jobs and the grants name these schemas.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
