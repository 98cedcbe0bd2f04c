-- Abschriften: a document of a case (an order, say) made available to another body (the
-- police) by a link mailed to it. The link's token is derived from the copy id with the
-- server's secret; only its keyed hash is stored. One row per copy and recipient.
CREATE TABLE copies (
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    copy_id      TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    email        TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    status       TEXT NOT NULL,
    error        TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    opened_at    TEXT,
    PRIMARY KEY (tenant_id, copy_id)
);
CREATE INDEX copies_by_case ON copies (tenant_id, case_id);
CREATE UNIQUE INDEX copies_by_token ON copies (tenant_id, token_hash);
