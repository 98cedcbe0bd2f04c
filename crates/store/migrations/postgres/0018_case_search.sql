-- Full-text search over a tenant's cases (Aktenzeichen, applicant, submitted data): a
-- generated tsvector with a GIN index, so the database keeps it in step with every write.
-- The 'simple' configuration lowercases without stemming (names and numbers stay as
-- written); words are matched by prefix.
-- Hyphens and JSON punctuation become spaces first: PostgreSQL's parser would read
-- „GEW-2026-000001“ as the word „gew“ and the numbers „-2026“ and „-000001“.
ALTER TABLE cases ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', translate(reference || ' ' || applicant || ' ' || data,
        '-{}[]":,', '        '))) STORED;
CREATE INDEX cases_search ON cases USING GIN (search);
