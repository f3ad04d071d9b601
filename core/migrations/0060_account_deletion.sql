-- A deleted account keeps its pseudonymous id (interactions, registrations and model history
-- stay consistent) and loses its personal data; ``deleted_at`` says when, and refuses logins.
ALTER TABLE app.users ADD COLUMN deleted_at timestamptz;
