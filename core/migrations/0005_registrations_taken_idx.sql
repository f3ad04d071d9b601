-- Places taken per event: the recommendations' read-time "not full" filter counts, for every
-- candidate event, the registrations that hold a place. The general (event_id, status,
-- created_at) index serves that count too, but it also holds cancelled and waitlisted rows and
-- wider entries; this partial index holds exactly the counted rows (measured at the medium size:
-- the whole recommendation query 0.30 -> 0.23 ms).
CREATE INDEX IF NOT EXISTS registrations_taken_idx
    ON app.registrations (event_id) WHERE status IN ('confirmed', 'attended');
