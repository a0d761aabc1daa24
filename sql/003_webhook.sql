-- 003_webhook.sql: the webhook receiver (issue 3, src/handlers/h_webhook.c) on top of 002's shared schema.

-- webhook_events keeps its subscription id without a foreign key. A foreign key makes every insert lock
-- the subscription row FOR KEY SHARE; all deliveries of one subscription lock the same row, so concurrent
-- ones pile up in a MultiXact on it, written to the WAL each time. That cost more than the rest of the
-- event statement together (bench/webhook.sh). The receiver's statement only inserts an event for a
-- subscription row it has just read in the same statement, and the cascade stays: deleting a subscription
-- (or its user) deletes its events.
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_subscription_fkey;

CREATE FUNCTION webhook_events_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_events e USING webhook_old_subscriptions o WHERE e.subscription = o.id;
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_events_cascade AFTER DELETE ON webhook_subscriptions
    REFERENCING OLD TABLE AS webhook_old_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_events_cascade();

-- received_at only serves the retention purge. Events arrive in time order, so a BRIN index answers
-- "older than N days" as well as the btree did, at almost no cost per insert.
DROP INDEX webhook_events_received;
CREATE INDEX webhook_events_received ON webhook_events USING brin (received_at);

-- How long raw events are kept for audit and replay (maintenance.purge); listed so the settings page shows
-- it. A number of days; 0 keeps them forever. Deduplication only needs Toggl's retry window (about a week).
INSERT INTO settings (key, value) VALUES ('webhook_event_retention_days', '30') ON CONFLICT (key) DO NOTHING;

-- webhook_events.result, for reading the audit trail:
--   applied    the change was stored (time_entries, toggl_projects, toggl_clients or toggl_tags)
--   unchanged  nothing differed from what we had (same content and `at`, or a repeated delete)
--   stale      ours is newer (a larger `at`, or a tombstone): nothing changed
--   foreign    another Toggl user's entry in a workspace that does not mirror everyone, or another
--              workspace's object: nothing stored but the event
--   ignored    a model or action we do not keep (workspace_user, task, ...)
--   invalid    a known model whose payload we cannot read (the reason is in the log): kept for replay
--   ping       the subscription's last ping (event_id 0)
-- A duplicate (same subscription and event_id) is not stored again.
COMMENT ON COLUMN webhook_events.result IS 'applied | unchanged | stale | foreign | ignored | invalid | ping (sql/003_webhook.sql)';
