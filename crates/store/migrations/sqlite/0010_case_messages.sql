-- Messages between the applicant and the authority about a case (the mailbox). A file sent
-- with a message is a document of the case (kind `anlage`) carrying the message's id.
CREATE TABLE case_messages (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    message_id  TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    -- 'in': from the applicant; 'out': from the authority.
    direction   TEXT NOT NULL,
    -- The staff member who wrote an outgoing message (display name), empty for incoming.
    author      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    -- When the other side first read it.
    read_at     TEXT,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX case_messages_by_case ON case_messages (tenant_id, case_id, created_at);

ALTER TABLE documents ADD COLUMN message_id TEXT;
