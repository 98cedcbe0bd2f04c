-- Chains a transaction's audit entries inside the database (PostgreSQL only).
--
-- `audit_chain` reserves the entries' sequence numbers on the tenant's counter, reads the
-- hash of the entry before them and returns the entries linked into the chain, hashed
-- exactly as the application does (store::audit::entry_hash: SHA-256 over the tenant, the
-- sequence number, the fields and the previous hash, joined by U+001F). A step inserts them
-- with `INSERT INTO audit_log SELECT * FROM audit_chain(...)` as one part of the statement
-- that sends its other writes: one round trip instead of three, and the tenant's counter is
-- locked only from that statement to the commit.
--
-- The function is VOLATILE, so each of its statements takes a fresh snapshot: when the
-- counter update waited for another transaction of the tenant, the read of the previous
-- hash sees that transaction's entries.
CREATE FUNCTION audit_chain(p_tenant TEXT, p_at TEXT, p_entries TEXT)
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
    -- Without the entry before (the first entry, or entries deleted) the chain starts from
    -- the genesis hash, so that verification reports a gap.
    SELECT a.hash INTO v_prev FROM audit_log a WHERE a.tenant_id = p_tenant AND a.seq = v_last - v_count;
    v_prev := coalesce(v_prev, repeat('0', 64));
    r.tenant_id := p_tenant;
    r.seq := v_last - v_count;
    r.at := p_at;
    FOR v_entry IN SELECT e.value FROM jsonb_array_elements(v_entries) WITH ORDINALITY AS e ORDER BY e.ordinality LOOP
        r.seq := r.seq + 1;
        r.actor := v_entry->>'actor';
        r.action := v_entry->>'action';
        r.object_type := v_entry->>'object_type';
        r.object_id := v_entry->>'object_id';
        r.details := v_entry->>'details';
        r.prev_hash := v_prev;
        r.hash := encode(sha256(convert_to(concat_ws(chr(31), p_tenant, r.seq::text, p_at, r.actor, r.action,
                                                     r.object_type, r.object_id, r.details, v_prev), 'UTF8')), 'hex');
        RETURN NEXT r;
        v_prev := r.hash;
    END LOOP;
END
$$;
