{#
    The `grants` config of the marts gives the analyst role SELECT on each table; reading them also
    needs USAGE on the schema. Skipped when the role does not exist (created by migration 0010).
#}
{% macro grant_marts_schema_usage() %}
    {% if execute %}
        {% set role = 'analyst' %}
        do $$
        begin
            if exists (select 1 from pg_roles where rolname = '{{ role }}')
               and exists (select 1 from pg_namespace where nspname = 'marts') then
                execute 'grant usage on schema marts to {{ role }}';
            end if;
        end
        $$;
    {% endif %}
{% endmacro %}
