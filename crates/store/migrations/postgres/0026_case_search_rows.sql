-- SQLite's search index gets a table that finds a case's entry by key (see the SQLite
-- migration of the same number). PostgreSQL's search is a column of `cases` with a GIN
-- index, updated with its row: nothing to do here; the file keeps both sets numbered alike.
SELECT 1;
