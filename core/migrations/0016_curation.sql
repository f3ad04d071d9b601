-- Curation of landed listings (pipelines/curation): which canonical event each listing is, its
-- category (the feed's or a prediction with its confidence) and its quality flags. Each table
-- is rebuilt whole by its Dagster asset in one transaction; event_id is raw.events' listing id.
CREATE SCHEMA IF NOT EXISTS curation;

-- One row per listing: the canonical event it belongs to (and the feed file it landed in). The
-- canonical id is the id of the cluster's earliest-created listing, so it is itself a listing id.
CREATE TABLE curation.listing_clusters (
    event_id          bigint PRIMARY KEY,
    canonical_id      bigint NOT NULL,
    is_canonical      boolean NOT NULL,
    cluster_size      integer NOT NULL CHECK (cluster_size >= 1),
    match_probability double precision CHECK (match_probability BETWEEN 0 AND 1),
    source_file       text,
    run_id            text,
    curated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (is_canonical = (event_id = canonical_id))
);
CREATE INDEX listing_clusters_canonical_idx ON curation.listing_clusters (canonical_id);

-- Scored candidate pairs worth a look (probability at least 0.5): the evidence behind a merge,
-- and the uncertain pairs an admin may want to merge or split.
CREATE TABLE curation.listing_links (
    event_id_l        bigint NOT NULL,
    event_id_r        bigint NOT NULL,
    match_probability double precision NOT NULL CHECK (match_probability BETWEEN 0 AND 1),
    match_weight      double precision NOT NULL,
    run_id            text,
    PRIMARY KEY (event_id_l, event_id_r),
    CHECK (event_id_l < event_id_r)
);

-- One row per listing: its feed's category, else one another feed gave the same canonical
-- event, else the classifier's, with its confidence.
CREATE TABLE curation.event_categories (
    event_id       bigint PRIMARY KEY,
    category       text NOT NULL,
    source         text NOT NULL CHECK (source IN ('feed', 'cluster', 'model')),
    confidence     double precision CHECK (confidence BETWEEN 0 AND 1),
    low_confidence boolean NOT NULL,
    model_version  text,
    run_id         text,
    curated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((source = 'model') = (confidence IS NOT NULL AND model_version IS NOT NULL))
);

-- Every raised quality flag of a listing, with the evidence that raised it.
CREATE TABLE curation.quality_flags (
    event_id   bigint NOT NULL,
    flag       text NOT NULL,
    evidence   text NOT NULL CHECK (evidence <> ''),
    run_id     text,
    PRIMARY KEY (event_id, flag)
);

-- One row per listing: the quality score from its flags; low quality is demoted and never
-- recommended.
CREATE TABLE curation.listing_quality (
    event_id      bigint PRIMARY KEY,
    quality_score double precision NOT NULL CHECK (quality_score BETWEEN 0 AND 1),
    flags         text[] NOT NULL DEFAULT '{}',
    low_quality   boolean NOT NULL,
    run_id        text,
    curated_at    timestamptz NOT NULL DEFAULT now()
);

-- Analysts read curation as they read the marts: it holds listings' facts, no personal data.
GRANT USAGE ON SCHEMA curation TO analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA curation TO analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA curation GRANT SELECT ON TABLES TO analyst;
