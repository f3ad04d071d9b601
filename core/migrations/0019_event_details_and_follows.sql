-- What marketplace clients show of an event beyond its catalogue fields: the local time zone
-- its times are given in, whether it happens in person, online or both (and where online), an
-- image. And the one relation users have with organisers: following them.

-- A time zone PostgreSQL knows (its own tz database, the one AT TIME ZONE reads). Declared
-- immutable so a CHECK may use it: zone names are only ever added to that database.
CREATE FUNCTION app.is_time_zone(name text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    PERFORM now() AT TIME ZONE name;
    RETURN name IS NOT NULL AND name <> '' AND name !~ '^[+-]?[0-9]';
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END $$;

-- A start or end as the wall-clock time of the event's zone, with its offset (RFC 3339), for
-- clients that show "19:00 local" without a time zone library.
CREATE FUNCTION app.local_time(at timestamptz, zone text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (
    SELECT to_char(at AT TIME ZONE zone, 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN o < interval '0' THEN '-' || to_char(-o, 'HH24:MI')
                ELSE '+' || to_char(o, 'HH24:MI') END
    FROM (SELECT (at AT TIME ZONE zone) - (at AT TIME ZONE 'UTC') AS o) AS offset_of_zone
);

ALTER TABLE app.events
    ADD COLUMN timezone text NOT NULL DEFAULT 'UTC' CHECK (app.is_time_zone(timezone)),
    ADD COLUMN attendance_mode text NOT NULL DEFAULT 'in_person'
        CHECK (attendance_mode IN ('in_person', 'online', 'hybrid')),
    ADD COLUMN online_url text
        CHECK (online_url ~ '^https?://[^[:space:]]+$' AND length(online_url) <= 2000),
    ADD COLUMN image_url text
        CHECK (image_url ~ '^https?://[^[:space:]]+$' AND length(image_url) <= 2000);

-- Feeds have always marked online events by their venue: no venue id, no coordinates, and the
-- venue name "Online".
UPDATE app.events SET attendance_mode = 'online'
WHERE lower(venue_name) = 'online' AND lat IS NULL;

ALTER TABLE raw.events
    ADD COLUMN timezone text,
    ADD COLUMN attendance_mode text,
    ADD COLUMN online_url text,
    ADD COLUMN image_url text;

CREATE TABLE app.organizer_follows (
    user_id      bigint NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    organizer_id bigint NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, organizer_id),
    CHECK (user_id <> organizer_id)
);
-- "How many follow this organiser" and the analysts' incremental reads.
CREATE INDEX organizer_follows_organizer_idx ON app.organizer_follows (organizer_id);
CREATE INDEX organizer_follows_created_idx ON app.organizer_follows (created_at);

-- Recommendation answers include the events of followed organisers: a follow or an unfollow
-- changes that user's answers, announced like the other changes of a user's own state
-- (migration 0006).
CREATE FUNCTION app.announce_follows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM app.announce_users_changed(ARRAY(SELECT DISTINCT user_id FROM changed));
    RETURN NULL;
END $$;

CREATE TRIGGER organizer_follows_announce_inserted
    AFTER INSERT ON app.organizer_follows REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_follows_changed();
CREATE TRIGGER organizer_follows_announce_deleted
    AFTER DELETE ON app.organizer_follows REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_follows_changed();
