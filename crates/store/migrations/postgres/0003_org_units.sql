-- Organisational units of staff (comma-separated), usable as candidate groups of user tasks.
ALTER TABLE staff ADD COLUMN org_units TEXT NOT NULL DEFAULT '';
