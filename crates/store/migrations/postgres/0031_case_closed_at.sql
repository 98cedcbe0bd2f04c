-- When the case ended (Vorgang abgeschlossen): its process finished or was ended. A decision
-- is not the end: a confirmed Gewerbeanzeige stays open until its fee is paid. Retention
-- counts from here. Cases that ended before this column existed ended at their decision.
ALTER TABLE cases ADD COLUMN closed_at TEXT;

UPDATE cases SET closed_at = COALESCE(decided_at, updated_at)
WHERE EXISTS (
    SELECT 1 FROM process_instances i
    WHERE i.tenant_id = cases.tenant_id AND i.case_id = cases.case_id
      AND i.status IN ('completed', 'terminated')
);
