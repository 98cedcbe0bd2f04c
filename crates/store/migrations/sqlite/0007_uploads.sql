-- Files an applicant uploaded to an application not yet submitted. They belong to an
-- upload key kept in the applicant's session (and in a saved draft, so that resuming the
-- draft elsewhere keeps them); on submission they move into the case's documents. Uploads
-- never submitted are deleted when they expire (the session's lifetime, or the draft's).
CREATE TABLE uploads (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    upload_id     TEXT NOT NULL,
    upload_key    TEXT NOT NULL,
    procedure_id  TEXT NOT NULL,
    field         TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    content       BLOB NOT NULL,
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    -- 'clean' (a virus scanner found nothing) or 'unscanned' (no scanner configured).
    scan          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, upload_id)
);
CREATE INDEX uploads_by_key ON uploads (tenant_id, upload_key);
CREATE INDEX uploads_by_expiry ON uploads (expires_at);

-- A saved draft carries the upload key of its application.
ALTER TABLE drafts ADD COLUMN upload_key TEXT;

-- Documents record whether a scanner checked them (uploads) or not ('' for generated ones).
ALTER TABLE documents ADD COLUMN scan TEXT NOT NULL DEFAULT '';
