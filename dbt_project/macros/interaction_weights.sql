{#
    Exponential time decay: 1 for an interaction at `as_of`, 0.5 one half-life earlier, and so on.
    Future timestamps (clock skew) count as 1. In double precision: exp() of a numeric is
    computed digit by digit, many times slower.
#}
{% macro decay_factor(occurred_at) -%}
    exp(
        -ln(2.0::double precision)
        * greatest(extract(epoch from ({{ popularity_as_of() }} - {{ occurred_at }}))::double precision, 0)
        / (86400.0 * {{ var('popularity_half_life_days') }})
    )
{%- endmacro %}

{% macro popularity_as_of() -%}
    {%- if var('popularity_as_of') -%}
        '{{ var("popularity_as_of") }}'::timestamptz
    {%- else -%}
        current_timestamp
    {%- endif -%}
{%- endmacro %}
