-- Citizen accounts (Bürgerkonto), one set per tenant: the e-mail address is the login
-- name, confirmed by a link before the first login; the password is an Argon2id hash; the
-- profile (JSON) fills in forms.
CREATE TABLE citizen_accounts (
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id),
    account_id     TEXT NOT NULL,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    profile        TEXT NOT NULL,
    verified_at    TEXT,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);
CREATE UNIQUE INDEX citizen_accounts_by_email ON citizen_accounts (tenant_id, email);

-- One-time links (address verification, password reset); only the keyed hash is stored.
CREATE TABLE account_tokens (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    token_hash  TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX account_tokens_by_expiry ON account_tokens (expires_at);

-- The cases an account submitted.
CREATE TABLE account_cases (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    account_id  TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, account_id, case_id)
);

-- A draft saved while signed in belongs to the account.
ALTER TABLE drafts ADD COLUMN account_id TEXT;
CREATE INDEX drafts_by_account ON drafts (tenant_id, account_id);
