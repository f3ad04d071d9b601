-- Recommendation feedback arrives by two doors into one table: the API's rows (synced from
-- app.recommendation_feedback) and the widget's batch logs landed as files. The file a row came
-- from lets a corrected delivery replace exactly its own rows; API rows name their table.
ALTER TABLE raw.recommendation_feedback
    ADD COLUMN _source_file text NOT NULL DEFAULT 'app.recommendation_feedback';
CREATE INDEX recommendation_feedback_source_file_idx
    ON raw.recommendation_feedback (_source_file);
