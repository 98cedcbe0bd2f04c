-- Erasable details of audit entries. A new entry's hash covers the SHA-256 of its details
-- (details_sha256) instead of the details themselves, so the details can be erased when the
-- case's retention ends (erased_at) while the chain still verifies: what was done, by whom
-- and when stays provable, the free text (a clerk's reasons, file names) goes. Entries
-- written before this migration keep the details in their hash and are not erasable.
ALTER TABLE audit_log ADD COLUMN details_sha256 TEXT;
ALTER TABLE audit_log ADD COLUMN erased_at TEXT;

-- audit_chain hashes as store::audit::entry_hash does now: over "sha256:" and the details'
-- SHA-256 in place of the details.
CREATE OR REPLACE FUNCTION audit_chain(p_tenant TEXT, p_at TEXT, p_entries TEXT)
RETURNS SETOF audit_log
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_entries JSONB := p_entries::jsonb;
    v_count BIGINT := jsonb_array_length(p_entries::jsonb);
    v_last BIGINT;
    v_prev TEXT;
    v_entry JSONB;
    r audit_log;
BEGIN
    IF v_count = 0 THEN
        RETURN;
    END IF;
    UPDATE counters SET value = value + v_count
     WHERE tenant_id = p_tenant AND name = 'audit'
    RETURNING value INTO v_last;
    IF NOT FOUND THEN
        INSERT INTO counters (tenant_id, name, value) VALUES (p_tenant, 'audit', v_count)
        ON CONFLICT (tenant_id, name) DO UPDATE SET value = counters.value + v_count
        RETURNING value INTO v_last;
    END IF;
    SELECT a.hash INTO v_prev FROM audit_log a WHERE a.tenant_id = p_tenant AND a.seq = v_last - v_count;
    v_prev := coalesce(v_prev, repeat('0', 64));
    r.tenant_id := p_tenant;
    r.seq := v_last - v_count;
    r.at := p_at;
    r.erased_at := NULL;
    FOR v_entry IN SELECT e.value FROM jsonb_array_elements(v_entries) WITH ORDINALITY AS e ORDER BY e.ordinality LOOP
        r.seq := r.seq + 1;
        r.actor := v_entry->>'actor';
        r.action := v_entry->>'action';
        r.object_type := v_entry->>'object_type';
        r.object_id := v_entry->>'object_id';
        r.details := v_entry->>'details';
        r.details_sha256 := encode(sha256(convert_to(r.details, 'UTF8')), 'hex');
        r.prev_hash := v_prev;
        r.hash := encode(sha256(convert_to(concat_ws(chr(31), p_tenant, r.seq::text, p_at, r.actor, r.action,
                                                     r.object_type, r.object_id, 'sha256:' || r.details_sha256, v_prev), 'UTF8')), 'hex');
        RETURN NEXT r;
        v_prev := r.hash;
    END LOOP;
END
$$;
