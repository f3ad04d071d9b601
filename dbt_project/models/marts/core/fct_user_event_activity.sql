{{
    config(
        materialized='incremental',
        unique_key=['user_id', 'event_id'],
        incremental_strategy='replace_keys',
        tombstone='interaction_count = 0 and not has_registration',
        on_schema_change='append_new_columns',
        post_hook=['analyze {{ this }}'],
        indexes=[
            {'columns': ['user_id', 'event_id'], 'unique': True},
            {'columns': ['interactions_watermark']},
        ],
    )
}}

-- One row per (user, event) pair with any interaction or registration: what the user did, the
-- strongest interaction weight, and the furthest funnel stage reached. Stages are cumulative (a
-- registration implies the user saw the event), so funnels built on them never widen:
-- view >= click >= register >= attend. Popularity, the funnel and the training set read it.
-- Incremental: a run recomputes the pairs whose interactions changed since its last run and
-- those whose registrations differ from what it last saw; a pair left with neither is deleted.
-- Registrations are read from their intermediate view, which fct_registrations only adds event
-- dates to: this model then starts with the first marts of a run instead of after
-- fct_registrations and its tests, and the funnel, popularity and organizer marts that wait for
-- it finish sooner.
with registrations as (
    select
        user_id,
        event_id,
        bool_or(status = 'attended') as attended
    from {{ ref('stg_raw__registrations') }}
    group by user_id, event_id
),

{% if is_incremental() %}
changed_pairs as (
    select
        user_id,
        event_id
    from ({{ changed_interaction_keys(own_watermark()) }}) as changed_interactions
    union
    select
        coalesce(registrations.user_id, seen.user_id) as user_id,
        coalesce(registrations.event_id, seen.event_id) as event_id
    from registrations
    full outer join (
        select
            user_id,
            event_id,
            registration_attended
        from {{ this }}
        where has_registration
    ) as seen
        on registrations.user_id = seen.user_id
        and registrations.event_id = seen.event_id
    where registrations.user_id is null
        or seen.user_id is null
        or registrations.attended <> seen.registration_attended
),
{% endif %}

interactions as (
    select
        fct.user_id,
        fct.event_id,
        count(*) as interaction_count,
        max(fct.weight) filter (where fct.is_positive) as max_weight,
        bool_or(fct.is_positive) as has_positive,
        bool_or(fct.interaction_type = 'view') as viewed,
        bool_or(fct.interaction_type = 'click') as clicked,
        bool_or(fct.interaction_type = 'favorite') as favorited,
        bool_or(fct.interaction_type = 'share') as shared,
        bool_or(fct.interaction_type = 'register') as registered,
        bool_or(fct.interaction_type = 'attend') as attended,
        bool_or(fct.interaction_type = 'dismiss') as dismissed,
        min(fct.occurred_at) as first_interaction_at,
        max(fct.occurred_at) as last_interaction_at
    {% if is_incremental() %}
    from changed_pairs
    inner join {{ ref('fct_interactions') }} as fct
        on changed_pairs.user_id = fct.user_id
        and changed_pairs.event_id = fct.event_id
    {% else %}
    from {{ ref('fct_interactions') }} as fct
    {% endif %}
    group by fct.user_id, fct.event_id
),

combined as (
    select
        coalesce(interactions.user_id, registrations.user_id) as user_id,
        coalesce(interactions.event_id, registrations.event_id) as event_id,
        coalesce(interactions.interaction_count, 0) as interaction_count,
        interactions.max_weight,
        coalesce(interactions.has_positive, false) as has_positive,
        coalesce(interactions.viewed, false) as viewed,
        coalesce(interactions.clicked, false) as clicked,
        coalesce(interactions.favorited, false) as favorited,
        coalesce(interactions.shared, false) as shared,
        coalesce(interactions.registered, false)
        or registrations.user_id is not null as registered,
        coalesce(interactions.attended, false)
        or coalesce(registrations.attended, false) as attended,
        coalesce(interactions.dismissed, false) as dismissed,
        interactions.first_interaction_at,
        interactions.last_interaction_at,
        registrations.user_id is not null as has_registration,
        coalesce(registrations.attended, false) as registration_attended
    from interactions
    full outer join (
        select
            registrations.user_id,
            registrations.event_id,
            registrations.attended
        from registrations
        {% if is_incremental() %}
        inner join changed_pairs
            on registrations.user_id = changed_pairs.user_id
            and registrations.event_id = changed_pairs.event_id
        {% endif %}
    ) as registrations
        on interactions.user_id = registrations.user_id
        and interactions.event_id = registrations.event_id
    {% if is_incremental() %}
    union all
    -- Pairs left with no interaction and no registration: tombstones that delete the stale row.
    select
        changed_pairs.user_id,
        changed_pairs.event_id,
        0 as interaction_count,
        null as max_weight,
        false as has_positive,
        false as viewed,
        false as clicked,
        false as favorited,
        false as shared,
        false as registered,
        false as attended,
        false as dismissed,
        null as first_interaction_at,
        null as last_interaction_at,
        false as has_registration,
        false as registration_attended
    from changed_pairs
    where not exists (
        select 1
        from interactions
        where interactions.user_id = changed_pairs.user_id
            and interactions.event_id = changed_pairs.event_id
    )
        and not exists (
            select 1
            from registrations
            where registrations.user_id = changed_pairs.user_id
                and registrations.event_id = changed_pairs.event_id
        )
    {% endif %}
)

select
    user_id,
    event_id,
    interaction_count,
    max_weight,
    has_positive,
    viewed,
    clicked,
    favorited,
    shared,
    registered,
    attended,
    dismissed,
    first_interaction_at,
    last_interaction_at,
    (viewed or clicked or favorited or shared or registered or attended) as reached_view,
    (clicked or registered or attended) as reached_click,
    (registered or attended) as reached_register,
    attended as reached_attend,
    has_registration,
    registration_attended,
    {{ interactions_watermark() }} as interactions_watermark
from combined
