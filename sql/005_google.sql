-- 005_google.sql: Google Calendar out (issue 4): the connection of each user, OAuth states in flight, the
-- mirror state of each time entry, colour rules, and the trigger that queues a sync for every real change of
-- a time entry, whatever path changed it (webhook, import, reconciliation), in the same transaction.

-- One Google connection per timebridge user. The refresh token is sealed in secrets (kind 'google_refresh',
-- AAD "google_refresh:<user id>"); the access token is cached here, sealed (AAD "google_access:<user id>").
CREATE TABLE google_accounts (
    user_id             bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    status              text NOT NULL DEFAULT 'ok'
                        CHECK (status IN ('ok', 'needs_reconnect', 'disconnecting')),
    status_detail       text,                         -- why it needs a reconnect, for the user
    scopes              text NOT NULL DEFAULT '',     -- granted, space-separated
    access_sealed       text,
    access_expires_at   timestamptz,
    calendar_id         text,                         -- the app calendar, once created
    calendar_name       text NOT NULL DEFAULT 'Toggl' CHECK (length(calendar_name) BETWEEN 1 AND 200),
    calendar_time_zone  text,
    calendar_created_at timestamptz,
    backfill_days       integer NOT NULL DEFAULT 30 CHECK (backfill_days BETWEEN 1 AND 3650),
    running_refresh_min integer NOT NULL DEFAULT 5 CHECK (running_refresh_min BETWEEN 1 AND 1440),
    backoff_until       timestamptz,                  -- rate/quota errors: every google job of the user waits
    backoff_level       integer NOT NULL DEFAULT 0,   -- doublings of the next backoff
    validated_at        timestamptz,                  -- the last validation started
    validation          jsonb,                        -- its counts, for admin
    connected_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- OAuth authorizations in flight: the state is single use, bound to the session that asked, good for
-- LIMIT_GOOGLE_STATE_S. Both are stored as HMACs (crypto_token_hash); the PKCE verifier is sealed with
-- AAD "google_verifier:<state hash>".
CREATE TABLE google_oauth_states (
    state_hash      text PRIMARY KEY,
    session_hash    text NOT NULL,
    user_id         bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    verifier_sealed text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX google_oauth_states_created ON google_oauth_states (created_at);

-- The mirror state of each entry that is (or was) meant to be in Google. What Google has is described by
-- event_state and synced_version; state is the summary shown to people:
--   pending  a sync is queued          synced   the event matches synced_version
--   deleted  entry deleted, event gone retrying a transient failure; a retry is queued
--   error    a permanent failure (last_error)   paused   waits for a Google reconnect
CREATE TABLE google_mirror (
    entry_id       bigint PRIMARY KEY REFERENCES time_entries ON DELETE CASCADE,
    user_id        bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    event_id       text,                              -- deterministic: base32hex("tb" + entry id)
    calendar_id    text,                              -- the calendar event_state speaks of
    event_state    text NOT NULL DEFAULT 'none' CHECK (event_state IN ('none', 'live', 'cancelled')),
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'synced', 'deleted', 'retrying', 'error', 'paused')),
    queued_version bigint NOT NULL DEFAULT 0,
    synced_version bigint NOT NULL DEFAULT 0,
    last_error     text,
    last_error_at  timestamptz,
    synced_at      timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX google_mirror_user_state ON google_mirror (user_id, state);

-- Colour rules: the first that matches wins, tag (in the entry's tag order), then project, client, workspace.
CREATE TABLE google_color_rules (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('tag', 'project', 'client', 'workspace')),
    ref_id     bigint NOT NULL,                       -- the Toggl id of the tag, project, client or workspace
    color_id   smallint NOT NULL CHECK (color_id BETWEEN 1 AND 11),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, kind, ref_id)
);

-- Queue a google.sync_entry job (dedupe key = entry id, so a burst folds into one queued job carrying the
-- newest version) for each of ids whose user has a Google connection, and mark its mirror row pending.
-- Only entries inside the user's mirror window (ended within backfill_days, or running) or already in the
-- mirror are queued: a bulk import of years of history must not flood the queue; backfill covers the window
-- at a pace within Google's quotas. A deleted entry never mirrored needs nothing. Jobs of a user who must
-- reconnect are born paused; during a rate-limit backoff they are born waiting for its end.
-- plpgsql, not sql: a sql function with data-modifying CTEs is parsed and planned again on every call
-- (0.6 ms of a webhook's time); plpgsql keeps the plan for the session. A generic one: with a custom plan
-- for each ids (which PostgreSQL keeps choosing here, a one-element array looking cheaper) every webhook of
-- a Google-connected user was planned again, 0.5 ms. The generic plan probes the primary keys per id, so
-- it stays linear for an import's 25,000 ids too.
CREATE FUNCTION google_queue_entries(ids bigint[]) RETURNS void LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    queued bigint;
BEGIN
    WITH c AS (
        SELECT te.id, te.user_id, te.version, g.status, g.backoff_until
        FROM time_entries te
        JOIN google_accounts g ON g.user_id = te.user_id AND g.status IN ('ok', 'needs_reconnect')
        LEFT JOIN google_mirror m ON m.entry_id = te.id
        WHERE te.id = ANY (ids)
          AND (m.entry_id IS NOT NULL
               OR (te.server_deleted_at IS NULL
                   AND coalesce(te.stop, now()) >= now() - make_interval(days => g.backfill_days)))
    ), mirrored AS (
        INSERT INTO google_mirror (entry_id, user_id, state, queued_version)
        SELECT id, user_id, CASE WHEN status = 'ok' THEN 'pending' ELSE 'paused' END, version FROM c
        ON CONFLICT (entry_id) DO UPDATE SET state = EXCLUDED.state, queued_version = EXCLUDED.queued_version,
            updated_at = now()
    ), q AS (
        INSERT INTO jobs (kind, payload, user_id, dedupe_key, state, run_after)
        SELECT 'google.sync_entry', jsonb_build_object('entry_id', id, 'version', version), user_id, id::text,
               (CASE WHEN status = 'ok' THEN 'queued' ELSE 'paused' END)::job_state,
               greatest(now(), coalesce(backoff_until, now()))
        FROM c
        ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused')
        DO UPDATE SET payload = EXCLUDED.payload, run_after = least(jobs.run_after, EXCLUDED.run_after),
            updated_at = now()
        RETURNING 1
    )
    SELECT count(*) INTO queued FROM q;
    -- jobs_notify wakes the workers for inserted rows only; a change folded into a job that was waiting (a
    -- running entry's next refresh, a retry's backoff) must wake them too. Nothing queued: no NOTIFY (it
    -- serialises commits).
    IF queued > 0 THEN
        PERFORM pg_notify('tb_jobs', '');
    END IF;
END $$;

-- Statement-level with transition tables: an import of 25,000 rows costs one set-based pass, not 25,000.
-- Every write of time_entries pays for these (a webhook's INSERT ... ON CONFLICT DO UPDATE fires both, one
-- with empty transition tables), so each first asks the cheapest question, whether a row belongs to a
-- Google-connected user (an index probe of google_accounts per row), and returns when none does: most
-- users have no Google connection. This costs a webhook about 35 us, where calling google_queue_entries
-- for every statement cost 1.3 ms. The plans are made once per session, with the row counts of the first
-- call (one row, from a webhook), so they must stay linear whatever that was: no join of the two
-- transition tables, which a one-row plan does as a nested loop (a 20,000-row update took 58 s, not 0.5 s).
CREATE FUNCTION google_entries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM google_new_rows n JOIN google_accounts g ON g.user_id = n.user_id
               WHERE g.status IN ('ok', 'needs_reconnect')) THEN
        PERFORM google_queue_entries(ARRAY(
            SELECT n.id FROM google_new_rows n
            JOIN google_accounts g ON g.user_id = n.user_id AND g.status IN ('ok', 'needs_reconnect')));
    END IF;
    RETURN NULL;
END $$;

-- A real change bumps version (the Toggl side's contract); a tombstone or a change of owner counts too.
-- EXCEPT compares as IS NOT DISTINCT FROM, by hashing or sorting: a new row whose (id, version,
-- server_deleted_at, user_id) is not among the old rows changed.
CREATE FUNCTION google_entries_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM google_new_rows n JOIN google_accounts g ON g.user_id = n.user_id
               WHERE g.status IN ('ok', 'needs_reconnect')) THEN
        PERFORM google_queue_entries(ARRAY(
            SELECT c.id FROM (
                SELECT n.id, n.version, n.server_deleted_at, n.user_id FROM google_new_rows n
                JOIN google_accounts g ON g.user_id = n.user_id AND g.status IN ('ok', 'needs_reconnect')
                EXCEPT
                SELECT o.id, o.version, o.server_deleted_at, o.user_id FROM google_old_rows o) c));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER google_entries_inserted AFTER INSERT ON time_entries
    REFERENCING NEW TABLE AS google_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION google_entries_inserted();
CREATE TRIGGER google_entries_updated AFTER UPDATE ON time_entries
    REFERENCING OLD TABLE AS google_old_rows NEW TABLE AS google_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION google_entries_updated();

-- Validation and running-entry refreshes reschedule themselves per user and per entry (a validation queues
-- the next one SYNC_VALIDATE_INTERVAL minutes later; a sync of a running entry queues its next refresh
-- running_refresh_min later), so an idle installation makes no job rows. These hourly schedules only
-- catch what fell through (a chain broken by an outage, a setting made shorter).
INSERT INTO schedules (name, kind, payload, cron, next_run_at) VALUES
    ('google.validate', 'google.validate', '{}', '17 * * * *', now()),
    ('google.refresh_running', 'google.refresh_running', '{}', '47 * * * *', now())
ON CONFLICT (name) DO NOTHING;

-- Defaults, listed so the settings page shows them.
INSERT INTO settings (key, value) VALUES
    ('SYNC_VALIDATE_INTERVAL', '10'),   -- minutes between validations of a user's calendar
    ('SYNC_VALIDATE_DAYS', '7'),        -- entries changed this many days back are compared with their events
    ('GOOGLE_BACKFILL_RATE', '5')       -- backfill syncs per second per user (Google allows ~10/s per user)
ON CONFLICT (key) DO NOTHING;
