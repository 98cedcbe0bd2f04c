-- Forwarding a case to the competent authority (Abgabe wegen Unzuständigkeit): the case is
-- closed here, the applicant is told why and to whom, and the authority gets a link to the
-- application for `expires_at` (its token derived from the id with the server's secret;
-- only the keyed hash is stored). `retrieved_at` is the authority's first opening.
CREATE TABLE case_forwardings (
    tenant_id        TEXT NOT NULL REFERENCES tenants (tenant_id),
    forwarding_id    TEXT NOT NULL,
    case_id          TEXT NOT NULL,
    authority        TEXT NOT NULL,
    email            TEXT NOT NULL,
    reason           TEXT NOT NULL,
    share_documents  BIGINT NOT NULL,
    token_hash       TEXT NOT NULL,
    forwarded_by     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    mailed_at        TEXT,
    retrieved_at     TEXT,
    PRIMARY KEY (tenant_id, forwarding_id)
);
CREATE INDEX case_forwardings_by_case ON case_forwardings (tenant_id, case_id);
CREATE UNIQUE INDEX case_forwardings_by_token ON case_forwardings (tenant_id, token_hash);
