-- Consultations (Anhörung, Beteiligung): a clerk asks another body about a case, with a
-- deadline (a German calendar day), sharing only the listed pages of the submitted data
-- and, if chosen, the attachments. The participant answers through a link whose token is
-- derived from the consultation id with the server's secret; only the token's keyed hash
-- is stored, so the table alone opens nothing.
CREATE TABLE consultations (
    tenant_id          TEXT NOT NULL REFERENCES tenants (tenant_id),
    consultation_id    TEXT NOT NULL,
    case_id            TEXT NOT NULL,
    participant        TEXT NOT NULL,
    email              TEXT NOT NULL,
    question           TEXT NOT NULL,
    shared_pages       TEXT NOT NULL,
    share_documents    BIGINT NOT NULL,
    due_date           TEXT NOT NULL,
    token_hash         TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    invited_at         TEXT,
    reminded_at        TEXT,
    overdue_at         TEXT,
    answered_at        TEXT,
    verdict            TEXT,
    statement          TEXT,
    conditions         TEXT,
    answered_by        TEXT,
    withdrawn_at       TEXT,
    PRIMARY KEY (tenant_id, consultation_id)
);
CREATE INDEX consultations_by_case ON consultations (tenant_id, case_id, created_at);
CREATE UNIQUE INDEX consultations_by_token ON consultations (tenant_id, token_hash);
-- The worklist's overview of overdue consultations.
CREATE INDEX consultations_overdue ON consultations (tenant_id, overdue_at);
