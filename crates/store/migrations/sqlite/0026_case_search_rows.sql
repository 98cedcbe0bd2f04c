-- The search index's entry of a case is found by key, not by scanning the index: deleting a
-- tenant's cases (the benchmark's scratch tenant, an offboarding) or correcting a case's data
-- scanned the whole FTS table once per case, which at a million cases never ends. The FTS5
-- rowid of each case's entry is kept in an ordinary table keyed by tenant and case (FTS5
-- rowids are stored explicitly and survive VACUUM).
CREATE TABLE case_search_rows (
    tenant_id  TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    fts_rowid  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, case_id)
);
INSERT INTO case_search_rows (tenant_id, case_id, fts_rowid)
    SELECT tenant_id, case_id, rowid FROM case_search;
DROP TRIGGER case_search_insert;
DROP TRIGGER case_search_update;
DROP TRIGGER case_search_delete;
CREATE TRIGGER case_search_insert AFTER INSERT ON cases BEGIN
    INSERT INTO case_search (tenant_id, case_id, content)
        VALUES (new.tenant_id, new.case_id, new.reference || ' ' || new.applicant || ' ' || new.data);
    INSERT INTO case_search_rows (tenant_id, case_id, fts_rowid) VALUES (new.tenant_id, new.case_id, last_insert_rowid());
END;
CREATE TRIGGER case_search_update AFTER UPDATE OF reference, applicant, data ON cases BEGIN
    DELETE FROM case_search WHERE rowid =
        (SELECT fts_rowid FROM case_search_rows WHERE tenant_id = old.tenant_id AND case_id = old.case_id);
    DELETE FROM case_search_rows WHERE tenant_id = old.tenant_id AND case_id = old.case_id;
    INSERT INTO case_search (tenant_id, case_id, content)
        VALUES (new.tenant_id, new.case_id, new.reference || ' ' || new.applicant || ' ' || new.data);
    INSERT INTO case_search_rows (tenant_id, case_id, fts_rowid) VALUES (new.tenant_id, new.case_id, last_insert_rowid());
END;
CREATE TRIGGER case_search_delete AFTER DELETE ON cases BEGIN
    DELETE FROM case_search WHERE rowid =
        (SELECT fts_rowid FROM case_search_rows WHERE tenant_id = old.tenant_id AND case_id = old.case_id);
    DELETE FROM case_search_rows WHERE tenant_id = old.tenant_id AND case_id = old.case_id;
END;
