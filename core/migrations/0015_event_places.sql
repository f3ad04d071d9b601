-- Places taken per event, kept by triggers on app.registrations, for the recommendations'
-- read-time "not full" filter: it counted the confirmed registrations of every candidate event;
-- now it reads one row per candidate. Registrations themselves decide on an exact count under
-- the event's lock (serving/events.py) and do not read this table.
CREATE TABLE app.event_places (
    event_id bigint PRIMARY KEY REFERENCES app.events (id) ON DELETE CASCADE,
    taken    integer NOT NULL
);

INSERT INTO app.event_places (event_id, taken)
SELECT event_id, count(*) FROM app.registrations
WHERE status IN ('confirmed', 'attended') GROUP BY event_id;

-- Statement-level: a bulk write costs one pass over its transition tables, not a call per row.
-- A count never goes below zero (rows written while triggers were off are not counted).
CREATE FUNCTION app.count_places() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO app.event_places AS p (event_id, taken)
        SELECT event_id, count(*) FROM new_rows
        WHERE status IN ('confirmed', 'attended') GROUP BY event_id
        ON CONFLICT (event_id) DO UPDATE SET taken = greatest(p.taken + EXCLUDED.taken, 0);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO app.event_places AS p (event_id, taken)
        SELECT event_id, -count(*) FROM old_rows
        WHERE status IN ('confirmed', 'attended') GROUP BY event_id
        ON CONFLICT (event_id) DO UPDATE SET taken = greatest(p.taken + EXCLUDED.taken, 0);
    ELSE
        INSERT INTO app.event_places AS p (event_id, taken)
        SELECT event_id, sum(change) FROM (
            SELECT event_id, 1 AS change FROM new_rows WHERE status IN ('confirmed', 'attended')
            UNION ALL
            SELECT event_id, -1 FROM old_rows WHERE status IN ('confirmed', 'attended')
        ) AS changes
        GROUP BY event_id HAVING sum(change) <> 0
        ON CONFLICT (event_id) DO UPDATE SET taken = greatest(p.taken + EXCLUDED.taken, 0);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER registrations_count_inserted
    AFTER INSERT ON app.registrations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.count_places();
CREATE TRIGGER registrations_count_updated
    AFTER UPDATE ON app.registrations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.count_places();
CREATE TRIGGER registrations_count_deleted
    AFTER DELETE ON app.registrations REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.count_places();

CREATE FUNCTION app.forget_places() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM app.event_places;
    RETURN NULL;
END $$;

CREATE TRIGGER registrations_count_truncated
    AFTER TRUNCATE ON app.registrations
    FOR EACH STATEMENT EXECUTE FUNCTION app.forget_places();
