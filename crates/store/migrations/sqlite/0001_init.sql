-- Rathaus schema, version 1. Every table carries tenant_id (the sharding key); timestamps are
-- ISO-8601 UTC text (sortable, identical on both backends); JSON is stored as text.

CREATE TABLE tenants (
    tenant_id   TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE staff (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    staff_id      TEXT NOT NULL,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    active        BIGINT NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, staff_id),
    UNIQUE (tenant_id, username)
);

CREATE TABLE api_keys (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    key_id      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE tenant_procedures (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    procedure_id  TEXT NOT NULL,
    active        BIGINT NOT NULL,
    parameters    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, procedure_id)
);

CREATE TABLE deployments (
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id),
    deployment_id  TEXT NOT NULL,
    procedure_id   TEXT NOT NULL,
    version        TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    files          TEXT NOT NULL,
    deployed_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, deployment_id),
    UNIQUE (tenant_id, procedure_id, content_hash)
);

CREATE TABLE counters (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE cases (
    tenant_id         TEXT NOT NULL REFERENCES tenants (tenant_id),
    case_id           TEXT NOT NULL,
    reference         TEXT NOT NULL,
    procedure_id      TEXT NOT NULL,
    deployment_id     TEXT NOT NULL,
    status            TEXT NOT NULL,
    channel           TEXT NOT NULL,
    lang              TEXT NOT NULL,
    applicant         TEXT NOT NULL,
    data              TEXT NOT NULL,
    findings          TEXT NOT NULL,
    access_code_hash  TEXT NOT NULL,
    submitted_at      TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    decided_at        TEXT,
    PRIMARY KEY (tenant_id, case_id),
    UNIQUE (tenant_id, reference)
);
CREATE INDEX cases_by_status ON cases (tenant_id, status, submitted_at);

CREATE TABLE process_instances (
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL,
    case_id        TEXT NOT NULL,
    deployment_id  TEXT NOT NULL,
    status         TEXT NOT NULL,
    state          TEXT NOT NULL,
    revision       BIGINT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, instance_id)
);
CREATE INDEX instances_by_case ON process_instances (tenant_id, case_id);

CREATE TABLE tasks (
    tenant_id         TEXT NOT NULL,
    task_id           TEXT NOT NULL,
    case_id           TEXT NOT NULL,
    instance_id       TEXT NOT NULL,
    token             BIGINT NOT NULL,
    element_id        TEXT NOT NULL,
    name              TEXT NOT NULL,
    candidate_groups  TEXT NOT NULL,
    form_key          TEXT NOT NULL,
    status            TEXT NOT NULL,
    assignee          TEXT,
    result            TEXT,
    created_at        TEXT NOT NULL,
    completed_at      TEXT,
    completed_by      TEXT,
    PRIMARY KEY (tenant_id, task_id)
);
CREATE INDEX tasks_open ON tasks (tenant_id, status, created_at);
CREATE INDEX tasks_by_case ON tasks (tenant_id, case_id);

-- The outbox of side effects (connectors): written in the transaction that moves the
-- process, claimed by workers with a lease, retried with backoff, dead-lettered as 'failed'.
CREATE TABLE jobs (
    tenant_id     TEXT NOT NULL,
    job_id        TEXT NOT NULL,
    instance_id   TEXT NOT NULL,
    case_id       TEXT NOT NULL,
    token         BIGINT NOT NULL,
    element_id    TEXT NOT NULL,
    job_type      TEXT NOT NULL,
    headers       TEXT NOT NULL,
    input         TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL,
    max_attempts  BIGINT NOT NULL,
    run_at        TEXT NOT NULL,
    locked_by     TEXT,
    locked_until  TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    PRIMARY KEY (tenant_id, job_id)
);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_by_instance ON jobs (tenant_id, instance_id, status);

CREATE TABLE documents (
    tenant_id             TEXT NOT NULL,
    document_id           TEXT NOT NULL,
    case_id               TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    template              TEXT NOT NULL,
    title                 TEXT NOT NULL,
    file_name             TEXT NOT NULL,
    media_type            TEXT NOT NULL,
    content               BLOB NOT NULL,
    sha256                TEXT NOT NULL,
    size                  BIGINT NOT NULL,
    visible_to_applicant  BIGINT NOT NULL,
    created_at            TEXT NOT NULL,
    PRIMARY KEY (tenant_id, document_id)
);
CREATE INDEX documents_by_case ON documents (tenant_id, case_id);

CREATE TABLE fees (
    tenant_id      TEXT NOT NULL,
    fee_id         TEXT NOT NULL,
    case_id        TEXT NOT NULL,
    kassenzeichen  TEXT NOT NULL,
    amount_cents   BIGINT NOT NULL,
    legal_basis    TEXT NOT NULL,
    due_date       TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, fee_id),
    UNIQUE (tenant_id, kassenzeichen)
);
CREATE INDEX fees_by_case ON fees (tenant_id, case_id);

-- The timeline of a case as applicant and clerk see it.
CREATE TABLE case_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    public      BIGINT NOT NULL
);
CREATE INDEX case_events_by_case ON case_events (tenant_id, case_id, seq);

-- Append-only audit trail, a hash chain per tenant: each entry's hash covers the previous
-- hash, so a changed or deleted entry breaks the chain (`rathaus audit verify`).
CREATE TABLE audit_log (
    tenant_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    details      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_by_object ON audit_log (tenant_id, object_type, object_id);

CREATE TABLE sessions (
    tenant_id     TEXT NOT NULL,
    session_hash  TEXT NOT NULL,
    data          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_hash)
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
