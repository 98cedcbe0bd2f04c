-- Deadlines of a case (Fristen): the statutory ones and the town's targets its procedure
-- names, each counted from the receipt of the application. `due_on` is the last day
-- (German calendar, inclusive); from `warn_on` the traffic light is amber. `met_at` is set
-- when the case is finished (decided, withdrawn, forwarded), in time or not; an open
-- deadline has none. `reminders` counts the reminders sent to the clerks, `escalated_at`
-- is when the team lead was told, `expired_at` when the deadline passed unmet.
CREATE TABLE case_deadlines (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    deadline_id   TEXT NOT NULL,
    case_id       TEXT NOT NULL,
    deadline_key  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    label         TEXT NOT NULL,
    legal_basis   TEXT,
    warn_on       TEXT NOT NULL,
    due_on        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    reminders     BIGINT NOT NULL DEFAULT 0,
    escalated_at  TEXT,
    expired_at    TEXT,
    met_at        TEXT,
    PRIMARY KEY (tenant_id, deadline_id),
    UNIQUE (tenant_id, case_id, deadline_key)
);
-- The dashboard: a tenant's open deadlines, the nearest first.
CREATE INDEX case_deadlines_open ON case_deadlines (tenant_id, due_on) WHERE met_at IS NULL;

-- Staff get reminders and escalations by e-mail, if they have an address.
ALTER TABLE staff ADD COLUMN email TEXT;

-- The dashboard also lists what others owe by a day: the applicant's answers to requests
-- and the participants' statements.
CREATE INDEX document_requests_waiting ON document_requests (tenant_id, due_date) WHERE answered_at IS NULL AND withdrawn_at IS NULL;
CREATE INDEX consultations_waiting ON consultations (tenant_id, due_date) WHERE answered_at IS NULL AND withdrawn_at IS NULL;
