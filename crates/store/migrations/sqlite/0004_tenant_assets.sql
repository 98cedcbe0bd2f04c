-- Files of a tenant's appearance (its logo), served by the portal with caching. Kept apart
-- from the settings so that loading a tenant for a request does not carry the image.
CREATE TABLE tenant_assets (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    content       BLOB NOT NULL,
    sha256        TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
