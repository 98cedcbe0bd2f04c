-- PostgreSQL's migration 0012 adds the function `audit_chain`, which chains audit entries
-- inside the database. SQLite has one writer at a time and chains in the application
-- (store::audit), so nothing changes here; the migration exists to keep the version
-- numbers of both backends the same.
SELECT 1;
