-- Where curation takes effect (issue: one listing per real event). The batch writes curation.*
-- (rebuilt whole, for the marts and analysts); the API reads only these app tables, which the
-- asset curation/app_event_curation replaces row by row in one transaction (readers keep their
-- snapshot, nobody waits on a TRUNCATE lock). Events without a row here (created through the
-- API after the last batch) are their own canonical event, of unknown quality: shown.

-- An admin's decision about a listing. The latest decision of each kind per event wins over the
-- next batch (merge/split for clustering, accept/reject for quality) and takes effect at once.
CREATE TABLE app.curation_decisions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action         text NOT NULL CHECK (action IN ('merge', 'split', 'accept', 'reject')),
    event_id       bigint NOT NULL REFERENCES app.events (id),
    -- merge: the listing event_id is the same real event as this one.
    other_event_id bigint REFERENCES app.events (id),
    note           text CHECK (char_length(note) <= 2000),
    decided_by     bigint REFERENCES app.users (id) ON DELETE SET NULL,
    decided_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((action = 'merge') = (other_event_id IS NOT NULL)),
    CHECK (other_event_id IS DISTINCT FROM event_id)
);
CREATE INDEX curation_decisions_event_idx ON app.curation_decisions (event_id, decided_at DESC);

-- One row per curated listing: the canonical event it is, its quality and whether an admin
-- rejected it. Lists and search show a listing only when it is canonical and not rejected;
-- recommendations also leave out low quality.
CREATE TABLE app.event_curation (
    event_id      bigint PRIMARY KEY REFERENCES app.events (id) ON DELETE CASCADE,
    canonical_id  bigint NOT NULL,
    quality_score double precision NOT NULL CHECK (quality_score BETWEEN 0 AND 1),
    flags         text[] NOT NULL DEFAULT '{}',
    low_quality   boolean NOT NULL,
    rejected      boolean NOT NULL DEFAULT false,
    source_file   text,
    curated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_curation_canonical_idx ON app.event_curation (canonical_id);
-- The listings the public reads leave out: small, so the anti-joins stay cheap.
CREATE INDEX event_curation_hidden_idx ON app.event_curation (event_id)
    WHERE canonical_id <> event_id OR rejected;
CREATE INDEX event_curation_not_recommended_idx ON app.event_curation (event_id)
    WHERE canonical_id <> event_id OR rejected OR low_quality;

-- What an admin should look at: low-quality listings, uncertain duplicate pairs and categories
-- predicted with low confidence, each with its evidence. Rebuilt by the same asset.
CREATE TABLE app.curation_queue (
    kind           text NOT NULL
                   CHECK (kind IN ('low_quality', 'uncertain_duplicate', 'low_confidence_category')),
    event_id       bigint NOT NULL REFERENCES app.events (id) ON DELETE CASCADE,
    other_event_id bigint REFERENCES app.events (id) ON DELETE CASCADE,
    score          double precision NOT NULL,
    evidence       text NOT NULL CHECK (evidence <> ''),
    queued_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'uncertain_duplicate') = (other_event_id IS NOT NULL))
);
CREATE UNIQUE INDEX curation_queue_item_idx
    ON app.curation_queue (kind, event_id, coalesce(other_event_id, 0));

-- Recommendation answers cached by the API workers leave out hidden and low-quality listings:
-- any change of curation may change them (migration 0006 has the channel and its payloads).
CREATE TRIGGER event_curation_announce_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON app.event_curation
    FOR EACH STATEMENT EXECUTE FUNCTION app.announce_everything_changed();

-- The batch's record of admins' rejections, beside the flags they override.
ALTER TABLE curation.listing_quality ADD COLUMN rejected boolean NOT NULL DEFAULT false;
