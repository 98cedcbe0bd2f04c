-- Online payments of fees through a payment provider (ePayBL or the built-in test
-- provider): one row per attempt, its outcome set once by the provider's signed answer.
CREATE TABLE payments (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    payment_id    TEXT NOT NULL,
    fee_id        TEXT NOT NULL,
    case_id       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, payment_id)
);
CREATE INDEX payments_by_fee ON payments (tenant_id, fee_id);
