-- Unfinished applications the applicant saved to resume later, by a link with a secret
-- token of which only the keyed hash is stored. Deleted when the application is submitted
-- or when the draft expires (the tenant's drafts_kept_days).
CREATE TABLE drafts (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    draft_id      TEXT NOT NULL,
    procedure_id  TEXT NOT NULL,
    data          TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, draft_id)
);
CREATE UNIQUE INDEX drafts_by_token ON drafts (tenant_id, token_hash);
CREATE INDEX drafts_by_expiry ON drafts (expires_at);
