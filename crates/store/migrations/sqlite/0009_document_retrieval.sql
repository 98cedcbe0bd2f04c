-- When the applicant first retrieved a document made available online: a notice made
-- available for retrieval counts as notified on the day after retrieval (§ 41 Abs. 2a
-- VwVfG), so the first retrieval is recorded.
ALTER TABLE documents ADD COLUMN retrieved_at TEXT;
