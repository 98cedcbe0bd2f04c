-- Erasable details of audit entries. A new entry's hash covers the SHA-256 of its details
-- (details_sha256) instead of the details themselves, so the details can be erased when the
-- case's retention ends (erased_at) while the chain still verifies: what was done, by whom
-- and when stays provable, the free text (a clerk's reasons, file names) goes. Entries
-- written before this migration keep the details in their hash and are not erasable.
ALTER TABLE audit_log ADD COLUMN details_sha256 TEXT;
ALTER TABLE audit_log ADD COLUMN erased_at TEXT;
