-- Ingested batches as landed, the quarantine of rejected rows, and the file ledger.
CREATE SCHEMA IF NOT EXISTS raw;

-- Every landed file, by content hash: re-landing the same file is a no-op.
CREATE TABLE raw.landed_files (
    path          text NOT NULL,
    sha256        text NOT NULL,
    dataset       text NOT NULL,
    size_bytes    bigint NOT NULL,
    rows_read     bigint NOT NULL,
    rows_loaded   bigint NOT NULL,
    rows_quarantined bigint NOT NULL,
    rows_duplicate   bigint NOT NULL,
    run_id        text,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, sha256)
);

CREATE TABLE raw.quarantine (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset       text NOT NULL,
    source_file   text NOT NULL,
    line          bigint,
    reason        text NOT NULL,
    record        text,
    run_id        text,
    partition_key text,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_dataset_idx ON raw.quarantine (dataset, partition_key);

CREATE TABLE raw.users (
    user_id      bigint PRIMARY KEY,
    email        text NOT NULL,
    name         text NOT NULL,
    role         text NOT NULL,
    home_city    text,
    home_lat     double precision,
    home_lng     double precision,
    interests    text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    _source      text NOT NULL,
    _loaded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.events (
    event_id      bigint PRIMARY KEY,
    title         text NOT NULL,
    description   text NOT NULL,
    category      text NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    venue_name    text,
    city          text,
    lat           double precision,
    lng           double precision,
    capacity      integer NOT NULL,
    price         numeric(10, 2) NOT NULL,
    currency      char(3) NOT NULL,
    organizer_id  bigint,
    status        text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    _source       text NOT NULL,
    _loaded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.registrations (
    registration_id bigint PRIMARY KEY,
    user_id     bigint NOT NULL,
    event_id    bigint NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    _loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- Interactions, one partition per UTC day: reloading a day swaps its partition atomically.
CREATE TABLE raw.interactions (
    interaction_id text NOT NULL,
    user_id        bigint NOT NULL,
    event_id       bigint NOT NULL,
    type           text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    source         text NOT NULL,
    context        jsonb,
    model_version  text,
    _source_file   text NOT NULL,
    _loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (interaction_id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TABLE raw.recommendation_feedback (
    feedback_id    uuid PRIMARY KEY,
    user_id        bigint NOT NULL,
    event_id       bigint NOT NULL,
    model_version  text NOT NULL,
    action         text NOT NULL,
    position       integer,
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    _loaded_at     timestamptz NOT NULL DEFAULT now()
);

-- High-water marks of the incremental loads from ``app.*``.
CREATE TABLE raw.watermarks (
    source       text PRIMARY KEY,
    high_water   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
