-- Search compares titles with what was typed (serving/routers/search.py): the title in lower
-- case with every run of punctuation and spaces made one space, kept beside the title so that
-- the comparison costs nothing per match ("Opening Night - Design Exhibition" is
-- "opening night design exhibition").
ALTER TABLE app.events ADD COLUMN title_key text GENERATED ALWAYS AS (
    trim(regexp_replace(lower(title), '[^[:alnum:]]+', ' ', 'g'))
) STORED;
