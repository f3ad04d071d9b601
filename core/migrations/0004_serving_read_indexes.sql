-- Indexes for the API's read-time recommendation filters and geo search.
-- Recommendations skip events a user dismissed; each candidate is checked by (user, event).
CREATE INDEX IF NOT EXISTS interactions_dismissed_idx
    ON app.interactions (user_id, event_id) WHERE type = 'dismiss';
CREATE INDEX IF NOT EXISTS recommendation_feedback_negative_idx
    ON app.recommendation_feedback (user_id, event_id) WHERE action IN ('dismiss', 'dislike');
-- Registrations of a user (their own list, newest first).
CREATE INDEX IF NOT EXISTS registrations_user_created_idx
    ON app.registrations (user_id, created_at DESC);
-- The bounding box that precedes the exact distance in radius searches.
CREATE INDEX IF NOT EXISTS events_lat_lng_idx ON app.events (lat, lng) WHERE lat IS NOT NULL;
