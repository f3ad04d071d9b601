-- Search that understands people (serving/routers/search.py, serving/search_terms.py).

-- The catalogue's words, for typo tolerance: a misspelt query word also matches the words here
-- that look like it (pg_trgm similarity, indexed). Kept by a statement trigger on app.events;
-- words of events since changed or removed stay (a stale word finds nothing, it never finds
-- the wrong event).
CREATE TABLE app.search_words (
    word text PRIMARY KEY CHECK (word <> '')
);
CREATE INDEX search_words_trgm_idx ON app.search_words USING gin (word gin_trgm_ops);

CREATE FUNCTION app.search_words_of(title text, description text, category text, tags text[],
                                    city text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT w
    FROM regexp_split_to_table(
        lower(concat_ws(' ', title, description, category, app.tags_text(tags), city)),
        '[^[:alnum:]]+') AS w
    WHERE char_length(w) BETWEEN 3 AND 40 AND w !~ '^[0-9]+$'
$$;

CREATE FUNCTION app.remember_search_words() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.search_words (word)
    SELECT DISTINCT w.word
    FROM changed e,
         LATERAL app.search_words_of(e.title, e.description, e.category, e.tags, e.city)
             AS w (word)
    ON CONFLICT (word) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER events_remember_search_words_insert
    AFTER INSERT ON app.events REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION app.remember_search_words();
CREATE TRIGGER events_remember_search_words_update
    AFTER UPDATE ON app.events REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION app.remember_search_words();

INSERT INTO app.search_words (word)
SELECT DISTINCT w.word
FROM app.events e,
     LATERAL app.search_words_of(e.title, e.description, e.category, e.tags, e.city) AS w (word)
ON CONFLICT (word) DO NOTHING;

-- The city joins the document ("jazz berlin"), weighted like tags: title > tags, category,
-- city > description.
DROP INDEX app.events_search_idx;
ALTER TABLE app.events DROP COLUMN search_document;
ALTER TABLE app.events ADD COLUMN search_document tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(title, '')), 'A')
    || setweight(to_tsvector('english', app.tags_text(tags)), 'B')
    || setweight(to_tsvector('english', coalesce(category, '')), 'B')
    || setweight(to_tsvector('english', coalesce(city, '')), 'B')
    || setweight(to_tsvector('english', coalesce(description, '')), 'C')
) STORED;
CREATE INDEX events_search_idx ON app.events USING gin (search_document);

-- Autocomplete matches the start of any word of a title or city (ILIKE on trigrams).
CREATE INDEX events_city_trgm_idx ON app.events USING gin (city gin_trgm_ops);

-- Corrections are ranked and bounded by edit distance (levenshtein), and found by trigrams or
-- by the first two letters (swapped letters share few trigrams).
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE INDEX search_words_start_idx ON app.search_words (left(word, 2), char_length(word));
