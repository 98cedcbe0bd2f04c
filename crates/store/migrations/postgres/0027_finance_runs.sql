-- Sollstellung: receivables handed to the municipal finance system in numbered runs. Each
-- fee is in exactly one run (`fees.run_id`), so fetching or repeating the export of a run
-- gives the same receivables and a new run only those not handed over yet.
CREATE TABLE finance_runs (
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    run_id       TEXT NOT NULL,
    number       BIGINT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    fee_count    BIGINT NOT NULL,
    total_cents  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, run_id),
    UNIQUE (tenant_id, number)
);
ALTER TABLE fees ADD COLUMN run_id TEXT;
CREATE INDEX fees_by_run ON fees (tenant_id, run_id);
