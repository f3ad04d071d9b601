-- What the batch jobs publish for the API. Each table is replaced as a whole by batch scoring
-- (build a fresh copy, then swap names in one transaction), so readers never see half a set.
CREATE SCHEMA IF NOT EXISTS serving;

CREATE TABLE serving.user_recommendations (
    user_id        bigint NOT NULL,
    rank           integer NOT NULL,
    event_id       bigint NOT NULL,
    score          real NOT NULL,
    reason         text,
    model_version  text NOT NULL,
    PRIMARY KEY (user_id, rank)
);

CREATE TABLE serving.similar_events (
    event_id          bigint NOT NULL,
    rank              integer NOT NULL,
    similar_event_id  bigint NOT NULL,
    score             real NOT NULL,
    model_version     text NOT NULL,
    PRIMARY KEY (event_id, rank)
);

-- Popular upcoming events per scope: scope 'global' (scope_value ''), 'city' or 'category'.
CREATE TABLE serving.popular_events (
    scope          text NOT NULL CHECK (scope IN ('global', 'city', 'category')),
    scope_value    text NOT NULL,
    rank           integer NOT NULL,
    event_id       bigint NOT NULL,
    score          real NOT NULL,
    model_version  text NOT NULL,
    PRIMARY KEY (scope, scope_value, rank)
);

-- One row per published set: which model version produced the serving tables, and when.
CREATE TABLE serving.publications (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_version  text NOT NULL,
    model_name     text NOT NULL,
    users_scored   bigint NOT NULL,
    events_scored  bigint NOT NULL,
    published_at   timestamptz NOT NULL DEFAULT now()
);
