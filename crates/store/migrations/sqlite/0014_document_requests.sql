-- Requests to the applicant for missing documents or information (Nachforderung), each
-- sent as a message of the case's mailbox, with a deadline (a German calendar day). The
-- applicant's next message answers the open requests of the case.
CREATE TABLE document_requests (
    tenant_id          TEXT NOT NULL REFERENCES tenants (tenant_id),
    request_id         TEXT NOT NULL,
    case_id            TEXT NOT NULL,
    message_id         TEXT NOT NULL,
    body               TEXT NOT NULL,
    due_date           TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    reminded_at        TEXT,
    overdue_at         TEXT,
    answered_at        TEXT,
    answer_message_id  TEXT,
    withdrawn_at       TEXT,
    PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX document_requests_by_case ON document_requests (tenant_id, case_id, created_at);
