-- audit_chain runs while the tenant's chain is locked, so a slow plan there slows every
-- writer of the tenant. PL/pgSQL caches a generic plan for its lookups (the counter, the
-- previous entry) after five calls; made while the tables were nearly empty (a new
-- database, or right after a large deletion and vacuum) it is a sequential scan, kept
-- until autovacuum analyses the tables again, and each call then reads the whole chain.
-- Custom plans are made per call from the table's current size and always use the keys.
ALTER FUNCTION audit_chain(TEXT, TEXT, TEXT) SET plan_cache_mode = force_custom_plan;
