-- Typo tolerance for swapped letters (serving/routers/search.py): "oepra" and "opera" share few
-- trigrams and not their first two letters, but the same letters. Each catalogue word keeps its
-- letters in order, indexed, so that a query word finds the words it is an anagram of, and the
-- edit budget then keeps those within two edits.
CREATE FUNCTION app.sorted_letters(word text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(c, '' ORDER BY c) FROM regexp_split_to_table(word, '') AS c
$$;

ALTER TABLE app.search_words
    ADD COLUMN letters text GENERATED ALWAYS AS (app.sorted_letters(word)) STORED;
CREATE INDEX search_words_letters_idx ON app.search_words (letters);
