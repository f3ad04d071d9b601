-- Change announcements for the API's in-memory recommendation answers (serving/answer_cache.py).
-- An answer of GET /recommendations/events depends on the published sets, the events, the places
-- taken per event and the user's own registrations, dismissals and profile. Every change to that
-- state is announced on the channel ``recommendations_changed``; NOTIFY is delivered at commit,
-- so a rolled-back change announces nothing. Payloads:
--   'u:<user id>'  that user's own state changed
--   'x:<event id>' a place was taken: the event may have become full (drop answers showing it)
--   '*'            anything may have changed (events edited, places freed, sets swapped)

-- Many users in one statement (a bulk load) are announced as '*': one message instead of a
-- flood, and a worker would drop most of its answers anyway.
CREATE FUNCTION app.announce_users_changed(user_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(user_ids) > 1000 THEN
        PERFORM pg_notify('recommendations_changed', '*');
    ELSE
        PERFORM pg_notify('recommendations_changed', 'u:' || id) FROM unnest(user_ids) AS id;
    END IF;
END $$;

CREATE FUNCTION app.announce_registration_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- OLD is null on INSERT and NEW on DELETE, so these are false there.
    was_taken boolean := coalesce(OLD.status IN ('confirmed', 'attended'), false);
    is_taken boolean := coalesce(NEW.status IN ('confirmed', 'attended'), false);
BEGIN
    PERFORM pg_notify('recommendations_changed', 'u:' || coalesce(NEW.user_id, OLD.user_id));
    IF was_taken AND NOT is_taken THEN
        PERFORM pg_notify('recommendations_changed', '*');
    ELSIF is_taken AND NOT was_taken THEN
        PERFORM pg_notify('recommendations_changed', 'x:' || NEW.event_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER registrations_announce_change
    AFTER INSERT OR UPDATE OR DELETE ON app.registrations
    FOR EACH ROW EXECUTE FUNCTION app.announce_registration_change();

CREATE FUNCTION app.announce_dismissals() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM app.announce_users_changed(
        ARRAY(SELECT DISTINCT user_id FROM inserted WHERE type = 'dismiss'));
    RETURN NULL;
END $$;

CREATE TRIGGER interactions_announce_dismissals
    AFTER INSERT ON app.interactions REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_dismissals();

CREATE FUNCTION app.announce_negative_feedback() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM app.announce_users_changed(
        ARRAY(SELECT DISTINCT user_id FROM inserted WHERE action IN ('dismiss', 'dislike')));
    RETURN NULL;
END $$;

CREATE TRIGGER recommendation_feedback_announce_negative
    AFTER INSERT ON app.recommendation_feedback REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_negative_feedback();

-- Home city and interests choose a user's popular fallback.
CREATE FUNCTION app.announce_profiles_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM app.announce_users_changed(ARRAY(SELECT id FROM updated));
    RETURN NULL;
END $$;

CREATE TRIGGER users_announce_profiles
    AFTER UPDATE ON app.users REFERENCING NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_profiles_changed();

-- Dismissals, feedback or registrations removed outside the API, and any edit of events, can
-- bring events back or change how they render: everything is announced.
CREATE FUNCTION app.announce_everything_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('recommendations_changed', '*');
    RETURN NULL;
END $$;

CREATE TRIGGER events_announce_change
    AFTER UPDATE OR DELETE OR TRUNCATE ON app.events
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_everything_changed();

CREATE TRIGGER interactions_announce_removal
    AFTER UPDATE OR DELETE OR TRUNCATE ON app.interactions
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_everything_changed();

CREATE TRIGGER recommendation_feedback_announce_removal
    AFTER UPDATE OR DELETE OR TRUNCATE ON app.recommendation_feedback
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_everything_changed();

CREATE TRIGGER registrations_announce_truncate
    AFTER TRUNCATE ON app.registrations
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_everything_changed();
