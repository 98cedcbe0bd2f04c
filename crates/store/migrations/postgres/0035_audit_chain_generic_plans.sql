-- audit_chain looks up two rows by their primary key: the tenant's counter and the previous
-- entry. Migration 0034 had it plan these per call, so that a plan made while the tables
-- were nearly empty (a sequential scan) was not kept; planning on every call costs about
-- as much as the rest of the function. A sequential scan is never right for a lookup by
-- key, so the function now forbids it instead: its generic plan, cached after five calls,
-- uses the keys whatever the statistics said when it was made.
ALTER FUNCTION audit_chain(TEXT, TEXT, TEXT) RESET plan_cache_mode;
ALTER FUNCTION audit_chain(TEXT, TEXT, TEXT) SET enable_seqscan = off;
