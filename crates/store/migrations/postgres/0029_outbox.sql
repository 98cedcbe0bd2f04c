-- The outbox of messages to other authorities (XGewerbeanzeige …): one row per message,
-- recorded once per job and recipient (a retried job adds nothing) and delivered by its own
-- job; the content is kept with its checksum as sent.
CREATE TABLE outbox (
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    message_id      TEXT NOT NULL,
    case_id         TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    recipient_name  TEXT NOT NULL,
    kind            TEXT NOT NULL,
    address         TEXT NOT NULL,
    content         TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    receipt         TEXT,
    PRIMARY KEY (tenant_id, message_id),
    UNIQUE (tenant_id, job_id, recipient)
);
CREATE INDEX outbox_by_case ON outbox (tenant_id, case_id);
