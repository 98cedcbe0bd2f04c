-- Corrections of a case's submitted data by a clerk (Änderung mit Begründung). `cases.data`
-- always holds the current version; each correction keeps the version it replaced
-- (`previous`, version `version - 1`), what changed (JSON list of {key, label, old, new} as
-- the case file shows it), the reason and who made it. Version 1 is the data as submitted.
CREATE TABLE case_data_versions (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    case_id     TEXT NOT NULL,
    version     BIGINT NOT NULL,
    previous    TEXT NOT NULL,
    changes     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, case_id, version)
);
