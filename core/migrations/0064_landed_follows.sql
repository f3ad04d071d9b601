-- Follows of organisers landed from a partner's community export (core.contracts.FOLLOWS),
-- reloaded whole on every load like users and events, and published into app.organizer_follows
-- by ingest (only follows newer than the last publication, so an API unfollow is kept).
CREATE TABLE raw.organizer_follows (
    user_id      bigint NOT NULL,
    organizer_id bigint NOT NULL,
    followed_at  timestamptz NOT NULL,
    _source      text NOT NULL,
    _loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, organizer_id)
);
