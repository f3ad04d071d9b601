-- Organisers, series and venues: real event data is shaped by them. An event belongs to a
-- recurring series (the feed's id, or one derived later from the organiser and the normalised
-- title, so none is required here) and takes place at a venue, or online (no venue). Partner
-- feeds name their listings with their own alphanumeric ids.
--
-- Feeds often leave the category and the price out; a missing value is unknown, not "free" or
-- "other", so both become nullable on the landed and on the operational table (the API keeps
-- its default price of 0 for events created without one). The contract never required a
-- description either: the landed table now agrees (the catalogue publishes it as '').

ALTER TABLE raw.events
    ADD COLUMN series_id   bigint,
    ADD COLUMN venue_id    bigint,
    ADD COLUMN external_id text,
    ALTER COLUMN description DROP NOT NULL,
    ALTER COLUMN category DROP NOT NULL,
    ALTER COLUMN price DROP NOT NULL;

ALTER TABLE app.events
    ADD COLUMN series_id   bigint,
    ADD COLUMN venue_id    bigint,
    ADD COLUMN external_id text CHECK (length(external_id) BETWEEN 1 AND 200),
    ALTER COLUMN category DROP NOT NULL,
    ALTER COLUMN price DROP NOT NULL;

-- "The next events of this series / at this venue", and the partner's id back to ours.
CREATE INDEX events_series_starts_idx ON app.events (series_id, starts_at)
    WHERE series_id IS NOT NULL;
CREATE INDEX events_venue_starts_idx ON app.events (venue_id, starts_at)
    WHERE venue_id IS NOT NULL;
CREATE INDEX events_external_id_idx ON app.events (external_id) WHERE external_id IS NOT NULL;
