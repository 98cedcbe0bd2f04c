-- Four-eyes principle (Vier-Augen-Prinzip): a clerk's decision on a task is kept as a
-- proposal (JSON: outcome, reason, clerk's name) until a second person approves it.
ALTER TABLE tasks ADD COLUMN proposal TEXT;
ALTER TABLE tasks ADD COLUMN proposed_by TEXT;
