-- Delegation (Aufgabenübertragung): the municipality `tenant_id` lets the service centre
-- `centre_tenant_id` process (or read) its cases of `procedures` (comma-separated; empty:
-- all) from `valid_from` to `valid_until` (inclusive days; open end when NULL), under the
-- agreement named. The row belongs to the municipality; the centre finds its delegations by
-- the second index, the only lookup across tenants, and only of this table.
CREATE TABLE delegations (
    tenant_id        TEXT NOT NULL REFERENCES tenants (tenant_id),
    delegation_id    TEXT NOT NULL,
    centre_tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
    procedures       TEXT NOT NULL,
    scope            TEXT NOT NULL,
    agreement        TEXT NOT NULL,
    valid_from       TEXT NOT NULL,
    valid_until      TEXT,
    granted_by       TEXT NOT NULL,
    granted_at       TEXT NOT NULL,
    revoked_by       TEXT,
    revoked_at       TEXT,
    PRIMARY KEY (tenant_id, delegation_id)
);
CREATE INDEX delegations_by_centre ON delegations (centre_tenant_id, revoked_at);
