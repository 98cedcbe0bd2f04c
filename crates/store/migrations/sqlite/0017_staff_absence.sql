-- Substitution (Vertretung): a staff member who is away names a colleague as deputy until
-- a day (German calendar, inclusive); the deputy then sees and may work on the absent
-- person's tasks. Both empty: present.
ALTER TABLE staff ADD COLUMN absent_until TEXT;
ALTER TABLE staff ADD COLUMN deputy TEXT;
CREATE INDEX staff_by_deputy ON staff (tenant_id, deputy);
