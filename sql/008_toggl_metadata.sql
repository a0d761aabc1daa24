-- 008_toggl_metadata.sql: the webhook receiver's request for a metadata refresh (issue 3).
--
-- A time entry that names a project or tag we do not know asks for one batched toggl.metadata job of its
-- owner, in the event's own statement (STMT_WEBHOOK_ENTRY_UPSERT): no second round trip. The statement
-- calls this only for such an entry. An INSERT INTO jobs written in the statement itself would be paid by
-- every event, known ids or not: it opens and locks jobs and its six indexes and fires jobs_notify even
-- when it inserts nothing (5 to 10 us more backend CPU per event than this call, measured).
--
-- The job is the one toggl_metadata_request() in src/toggl/metadata.c queues: same kind, same dedupe key
-- ("toggl.metadata:<user id>"), so every request while one is unfinished folds into it. DO NOTHING: a burst
-- of such events inserts one row and sends one NOTIFY (jobs_notify), then nothing. Returns whether this
-- call queued it.
CREATE FUNCTION toggl_metadata_request(uid bigint, delay_s integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jobs (kind, payload, user_id, dedupe_key, run_after)
    VALUES ('toggl.metadata', '{}', uid, 'toggl.metadata:' || uid, now() + make_interval(secs => delay_s))
    ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused')
    DO NOTHING;
    RETURN FOUND;
END $$;
