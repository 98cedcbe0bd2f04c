-- PostgreSQL's migration 0035 changes how its function `audit_chain` plans its lookups.
-- SQLite chains in the application (store::audit), so nothing changes here; the migration
-- exists to keep the version numbers of both backends the same.
SELECT 1;
