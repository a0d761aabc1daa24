-- 006_grafana.sql: what the Grafana JSON API (issue 5) needs: covering indexes for its aggregates and the
-- two functions its ad-hoc filters use. The statements are in src/db/stmt.c (STMT_GRAFANA_*).

-- The aggregates read entries by (user, start) for one user and by start for everyone, and need only
-- these columns: index-only scans (the table's own (user_id, start) index would fetch every heap row).
-- Deleted entries never count, so they are not in the indexes at all.
CREATE INDEX time_entries_grafana_user ON time_entries (user_id, start)
    INCLUDE (stop, duration, project_id, workspace_id, billable) WHERE server_deleted_at IS NULL;
CREATE INDEX time_entries_grafana_start ON time_entries (start)
    INCLUDE (user_id, stop, duration, project_id, workspace_id, billable) WHERE server_deleted_at IS NULL;

-- A range scan on start finds the entries that began in [from - 1 day, to). Entries longer than a day and
-- running ones (stop NULL) are few; they come from this index, so a range never misses an entry that
-- began long before it. The predicate must stay word for word the one in stmt.c (GF_SCAN) for the planner
-- to use it.
CREATE INDEX time_entries_grafana_long ON time_entries (user_id, start)
    WHERE server_deleted_at IS NULL AND (stop IS NULL OR stop - start > interval '1 day');

-- One ad-hoc filter on one label. op is Grafana's: = != =~ !~ =| !=|; regular expressions are anchored
-- (they must match the whole label, as in Prometheus and Loki) and case-sensitive. Never NULL.
CREATE FUNCTION grafana_match(v text, op text, vals text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT coalesce(CASE op
    WHEN '='   THEN v = vals[1]
    WHEN '!='  THEN v <> vals[1]
    WHEN '=~'  THEN v ~ ('^(?:' || vals[1] || ')$')
    WHEN '!~'  THEN v !~ ('^(?:' || vals[1] || ')$')
    WHEN '=|'  THEN v = ANY (vals)
    WHEN '!=|' THEN v <> ALL (vals)
END, false) $$;

-- The same for an entry's tags: "=" means "has this tag", "!=" "has not", "=~" "some tag matches", "!~"
-- "no tag matches". An entry without tags has the one tag "(no tag)", as /tag-values lists it.
CREATE FUNCTION grafana_match_tags(tags text[], op text, vals text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT coalesce(CASE op
    WHEN '='   THEN vals[1] = ANY (t)
    WHEN '!='  THEN vals[1] <> ALL (t)
    WHEN '=~'  THEN EXISTS (SELECT 1 FROM unnest(t) x WHERE x ~ ('^(?:' || vals[1] || ')$'))
    WHEN '!~'  THEN NOT EXISTS (SELECT 1 FROM unnest(t) x WHERE x ~ ('^(?:' || vals[1] || ')$'))
    WHEN '=|'  THEN t && vals
    WHEN '!=|' THEN NOT (t && vals)
END, false)
FROM (SELECT CASE WHEN cardinality(tags) = 0 THEN ARRAY['(no tag)'] ELSE tags END AS t) x $$;
