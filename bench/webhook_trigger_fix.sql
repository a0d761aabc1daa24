-- bench/webhook_trigger_fix.sql: a PROPOSAL, not a migration. Measured with
--   BENCH_SETUP_SQL=bench/webhook_trigger_fix.sql bench/webhook.sh
-- What it changes, and why (figures in the issue 3 webhook note):
--  * jobs_notify (001_core.sql) notifies on every INSERT statement into jobs, even one that inserted no row
--    (google_queue_entries runs such an INSERT for every change of a time entry of a user without Google).
--    A NOTIFY makes PostgreSQL take a database-wide lock from pre-commit to the end of the commit, so every
--    webhook event then commits alone (no group commit) and wakes the worker. Notify only for real rows.
--  * google_entries_inserted/updated (005_google.sql) both fire for every INSERT ... ON CONFLICT DO UPDATE
--    (PostgreSQL fires both statement-level triggers) and each calls the SQL function google_queue_entries,
--    planned anew on every call. Return at once unless a changed row belongs to a Google-connected user.
DROP TRIGGER jobs_notify ON jobs;
CREATE OR REPLACE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM jobs_new_rows) THEN
        PERFORM pg_notify('tb_jobs', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs REFERENCING NEW TABLE AS jobs_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();
CREATE OR REPLACE FUNCTION google_entries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM google_new_rows n JOIN google_accounts g ON g.user_id = n.user_id) THEN
        PERFORM google_queue_entries(ARRAY(SELECT id FROM google_new_rows));
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION google_entries_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM google_new_rows n JOIN google_accounts g ON g.user_id = n.user_id) THEN
        PERFORM google_queue_entries(ARRAY(
            SELECT n.id FROM google_new_rows n JOIN google_old_rows o ON o.id = n.id
            WHERE n.version IS DISTINCT FROM o.version
               OR n.server_deleted_at IS DISTINCT FROM o.server_deleted_at
               OR n.user_id IS DISTINCT FROM o.user_id));
    END IF;
    RETURN NULL;
END $$;
