{#
    Generic test: no two rows share the same values of `columns` (a compound key), without
    needing the dbt_utils package. When a unique index on exactly these columns exists, the
    database already enforces the key and the (costly, on millions of rows) scan is skipped.
#}
{% test unique_combination(model, columns) %}
    with enforcing_index as (
        select 1
        from pg_index as idx
        inner join pg_class as tbl
            on idx.indrelid = tbl.oid
        inner join pg_namespace as ns
            on tbl.relnamespace = ns.oid
        where idx.indisunique
            and idx.indpred is null
            and ns.nspname = '{{ model.schema }}'
            and tbl.relname = '{{ model.identifier }}'
            and (
                select array_agg(att.attname::text order by att.attname)
                from pg_attribute as att
                where att.attrelid = tbl.oid
                    and att.attnum = any(idx.indkey)
            ) = array[{% for column in columns | sort %}'{{ column }}'{% if not loop.last %}, {% endif %}{% endfor %}]::text[]
            and idx.indnatts = {{ columns | length }}
    )

    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    where not exists (select 1 from enforcing_index)
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
