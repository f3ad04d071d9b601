{#
    Generic test: no two rows share the same values of `columns` (a compound key), without
    needing the dbt_utils package.
#}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
