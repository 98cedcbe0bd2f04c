-- Aussonderung: finished cases whose retention has run out are handed to the archive as a
-- package and their personal data erased. One row per case: claimed by the node that does
-- it (a crashed node's claim is taken over later), then done with the package's name and
-- checksum and what was erased; the tenant's report of what was deleted when.
CREATE TABLE archive_log (
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    case_id         TEXT NOT NULL,
    reference       TEXT NOT NULL,
    procedure_id    TEXT NOT NULL,
    ended_at        TEXT NOT NULL,
    due_on          TEXT NOT NULL,
    status          TEXT NOT NULL,
    claimed_at      TEXT NOT NULL,
    claimed_by      TEXT NOT NULL,
    package         TEXT,
    package_sha256  TEXT,
    erased          TEXT,
    done_at         TEXT,
    PRIMARY KEY (tenant_id, case_id)
);
CREATE INDEX archive_log_by_done ON archive_log (tenant_id, done_at);
