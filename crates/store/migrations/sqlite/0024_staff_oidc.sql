-- Staff login by the town's own identity provider (OpenID Connect): the account is linked
-- to the provider's subject at its first such login and found by it afterwards.
ALTER TABLE staff ADD COLUMN oidc_issuer TEXT;
ALTER TABLE staff ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX staff_by_oidc ON staff (tenant_id, oidc_issuer, oidc_subject);
