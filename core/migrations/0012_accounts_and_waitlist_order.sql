-- Trust in tokens, organiser approval, waitlist order and case-insensitive filters of the API.

-- Every token carries the account's token version; the API refuses a token whose version is not
-- the account's current one. A new password or role revokes every token issued before it (as
-- does a logout, which bumps the version itself).
ALTER TABLE app.users ADD COLUMN token_version integer NOT NULL DEFAULT 1;

-- Self-service sign-up never grants the organiser role: it records the request, and an admin
-- grants the role (which clears the request).
ALTER TABLE app.users ADD COLUMN requested_role text CHECK (requested_role IN ('organizer'));
CREATE INDEX users_requested_role_idx ON app.users (created_at, id)
    WHERE requested_role IS NOT NULL;

CREATE FUNCTION app.revoke_tokens_on_credentials_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.token_version := OLD.token_version + 1;
    RETURN NEW;
END $$;

CREATE TRIGGER users_revoke_tokens
    BEFORE UPDATE OF password_hash, role ON app.users
    FOR EACH ROW
    WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash OR OLD.role IS DISTINCT FROM NEW.role)
    EXECUTE FUNCTION app.revoke_tokens_on_credentials_change();

-- Updates are announced by 0006 (users_announce_profiles); a deleted account must be forgotten
-- by the API's account cache as well.
CREATE FUNCTION app.announce_users_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM app.announce_users_changed(ARRAY(SELECT id FROM removed));
    RETURN NULL;
END $$;

CREATE TRIGGER users_announce_removal
    AFTER DELETE ON app.users REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_users_removed();

CREATE TRIGGER users_announce_truncate
    AFTER TRUNCATE ON app.users
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_everything_changed();

-- The waitlist is served in the order in which registrations won the event's row lock.
-- ``created_at`` is the start of the transaction, which may precede the lock by any time; a
-- sequence value taken under the lock is unique and follows the lock order.
CREATE SEQUENCE app.registration_queue_seq;
ALTER TABLE app.registrations ADD COLUMN queue_order bigint;
UPDATE app.registrations AS r SET queue_order = o.n
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM app.registrations) AS o
WHERE o.id = r.id;
SELECT setval('app.registration_queue_seq',
              greatest((SELECT max(queue_order) FROM app.registrations), 1));
ALTER TABLE app.registrations
    ALTER COLUMN queue_order SET DEFAULT nextval('app.registration_queue_seq'),
    ALTER COLUMN queue_order SET NOT NULL;
ALTER SEQUENCE app.registration_queue_seq OWNED BY app.registrations.queue_order;
CREATE INDEX registrations_waitlist_idx ON app.registrations (event_id, queue_order)
    WHERE status = 'waitlisted';

-- Filters on city and category ignore case (``city=berlin`` finds Berlin).
CREATE INDEX events_city_lower_idx ON app.events (lower(city));
CREATE INDEX events_category_lower_starts_idx ON app.events (lower(category), starts_at);
