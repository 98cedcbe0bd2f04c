-- Process engine, version 2: task assignment and due dates, buffered messages, job types.

ALTER TABLE tasks ADD COLUMN candidate_users TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN due_at TEXT;
ALTER TABLE tasks ADD COLUMN follow_up_at TEXT;
CREATE INDEX tasks_by_token ON tasks (tenant_id, instance_id, token);

-- Timers are jobs of type 'rathaus:timer' (token = the subscription) that run at their due
-- time; external workers fetch jobs by type.
CREATE INDEX jobs_by_type ON jobs (job_type, status, run_at);
CREATE INDEX jobs_by_token ON jobs (tenant_id, instance_id, token);

-- Messages for a case (payment received, documents handed in) that arrived while nothing
-- waited for them: kept until a subscription takes them or they expire.
CREATE TABLE messages (
    tenant_id      TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    case_id        TEXT NOT NULL,
    name           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    correlated_at  TEXT,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX messages_waiting ON messages (tenant_id, case_id, name, received_at);
