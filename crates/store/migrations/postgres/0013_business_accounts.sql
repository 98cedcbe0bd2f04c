-- Business accounts (Unternehmenskonto): an organisation whose members, each with their
-- own citizen account, share the organisation's cases and drafts. Admins invite members
-- by e-mail and remove them; a business always keeps at least one admin.
CREATE TABLE businesses (
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    business_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, business_id)
);

CREATE TABLE business_members (
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    business_id  TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    role         TEXT NOT NULL,
    joined_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, business_id, account_id)
);
CREATE INDEX business_members_by_account ON business_members (tenant_id, account_id);

-- An invitation to one address; only the keyed hash of the link's secret is stored.
CREATE TABLE business_invitations (
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id),
    invitation_id  TEXT NOT NULL,
    token_hash     TEXT NOT NULL,
    business_id    TEXT NOT NULL,
    email          TEXT NOT NULL,
    role           TEXT NOT NULL,
    invited_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, invitation_id)
);
CREATE UNIQUE INDEX business_invitations_by_token ON business_invitations (tenant_id, token_hash);
CREATE INDEX business_invitations_by_business ON business_invitations (tenant_id, business_id);

-- A case submitted, or a draft saved, on behalf of a business belongs to the business too.
ALTER TABLE account_cases ADD COLUMN business_id TEXT;
CREATE INDEX account_cases_by_business ON account_cases (tenant_id, business_id);
ALTER TABLE drafts ADD COLUMN business_id TEXT;
CREATE INDEX drafts_by_business ON drafts (tenant_id, business_id);
