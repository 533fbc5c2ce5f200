-- Up Migration
--
-- Full-text search over messages (issue 12), as Zulip does it: a tsvector per message kept current
-- in the database, a GIN index over it, and queries with websearch_to_tsquery / ts_headline
-- (src/server/search/postgres.ts).
--
-- The vector is computed by a trigger rather than a generated column, because the text search
-- configuration is a setting (SEARCH_LANGUAGE, default 'simple': no stemming or stop words, safe for
-- mixed languages) and a generated column can only name a constant one. The trigger fires on every
-- insert and update of a message, whoever writes it (the outbox consumer, re-hydration, replay), so
-- the vector can never go stale behind the content. Deleted messages get no vector: never found.
-- `search_config` records which configuration made a row's vector, so a changed setting re-indexes
-- what is stale (in batches, on start) and a crash midway resumes.

CREATE TABLE search_settings (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  config  regconfig NOT NULL DEFAULT 'simple'
);
INSERT INTO search_settings DEFAULT VALUES;

ALTER TABLE messages
  ADD COLUMN search_tsv tsvector,
  ADD COLUMN search_config regconfig;

CREATE FUNCTION messages_search_tsv() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  cfg regconfig := (SELECT config FROM search_settings);
BEGIN
  NEW.search_config := cfg;
  IF NEW.deleted THEN
    NEW.search_tsv := NULL;
  ELSE
    NEW.search_tsv := to_tsvector(cfg, NEW.content);
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER messages_search_tsv
  BEFORE INSERT OR UPDATE ON messages
  FOR EACH ROW EXECUTE FUNCTION messages_search_tsv();

-- Index what is already there (fires the trigger).
UPDATE messages SET content = content;

CREATE INDEX messages_search_idx ON messages USING gin (search_tsv);

-- Down Migration
DROP INDEX messages_search_idx;
DROP TRIGGER messages_search_tsv ON messages;
DROP FUNCTION messages_search_tsv();
ALTER TABLE messages DROP COLUMN search_config, DROP COLUMN search_tsv;
DROP TABLE search_settings;
