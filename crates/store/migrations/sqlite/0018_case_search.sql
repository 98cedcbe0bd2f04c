-- Full-text search over a tenant's cases (Aktenzeichen, applicant, submitted data): an FTS5
-- index kept in step with `cases` by triggers. Umlauts and accents are folded, so „Muller“
-- finds „Müller“; words are matched by prefix. Entries are found again by case id, not by
-- rowid (VACUUM may renumber the rowids of `cases`); that scans the index, which only the
-- rare change of submitted data or deletion of a case pays for.
CREATE VIRTUAL TABLE case_search USING fts5(
    tenant_id UNINDEXED,
    case_id UNINDEXED,
    content,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO case_search (tenant_id, case_id, content)
    SELECT tenant_id, case_id, reference || ' ' || applicant || ' ' || data FROM cases;
CREATE TRIGGER case_search_insert AFTER INSERT ON cases BEGIN
    INSERT INTO case_search (tenant_id, case_id, content)
        VALUES (new.tenant_id, new.case_id, new.reference || ' ' || new.applicant || ' ' || new.data);
END;
CREATE TRIGGER case_search_update AFTER UPDATE OF reference, applicant, data ON cases BEGIN
    DELETE FROM case_search WHERE tenant_id = old.tenant_id AND case_id = old.case_id;
    INSERT INTO case_search (tenant_id, case_id, content)
        VALUES (new.tenant_id, new.case_id, new.reference || ' ' || new.applicant || ' ' || new.data);
END;
CREATE TRIGGER case_search_delete AFTER DELETE ON cases BEGIN
    DELETE FROM case_search WHERE tenant_id = old.tenant_id AND case_id = old.case_id;
END;
