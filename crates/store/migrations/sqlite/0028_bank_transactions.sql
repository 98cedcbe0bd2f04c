-- Zahlungsabgleich: the transactions of imported bank statements (camt.053) that concern
-- the town's receivables, each recorded once per account and bank reference, so that a
-- statement imported again books nothing twice. A transaction that paid a fee names it; one
-- the machine could not book waits for a clerk (`unmatched`), who assigns it to a fee
-- (`assigned`) or closes it with a note (`closed`).
CREATE TABLE bank_transactions (
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    transaction_id  TEXT NOT NULL,
    account         TEXT NOT NULL,
    bank_reference  TEXT NOT NULL,
    statement_id    TEXT NOT NULL,
    booked_on       TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL,
    reversal        BIGINT NOT NULL,
    payer           TEXT NOT NULL,
    payer_iban      TEXT NOT NULL,
    remittance      TEXT NOT NULL,
    kassenzeichen   TEXT,
    fee_id          TEXT,
    status          TEXT NOT NULL,
    problem         TEXT,
    imported_at     TEXT NOT NULL,
    imported_by     TEXT NOT NULL,
    resolved_at     TEXT,
    resolved_by     TEXT,
    note            TEXT,
    PRIMARY KEY (tenant_id, transaction_id),
    UNIQUE (tenant_id, account, bank_reference)
);
CREATE INDEX bank_transactions_by_status ON bank_transactions (tenant_id, status, booked_on);
