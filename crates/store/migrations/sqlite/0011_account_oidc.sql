-- Accounts of people who sign in with an OpenID Connect provider (BundID, Servicekonto):
-- the provider's issuer and its subject for the person.
ALTER TABLE citizen_accounts ADD COLUMN oidc_issuer TEXT;
ALTER TABLE citizen_accounts ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX citizen_accounts_by_oidc ON citizen_accounts (tenant_id, oidc_issuer, oidc_subject);
