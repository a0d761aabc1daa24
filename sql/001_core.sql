-- 001_core.sql: users, sessions, API tokens, sealed secrets, the job queue, schedules, settings, audit log.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text,                      -- scrypt$N$r$p$salt$hash; NULL: cannot log in
    is_admin      boolean NOT NULL DEFAULT false,
    time_zone     text NOT NULL DEFAULT 'UTC',
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A session is found by the hash of its id, so a leaked table does not hand out live sessions.
CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,       -- absolute expiry; the idle expiry is computed from last_seen_at
    remote_addr  text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    token_hash   text NOT NULL UNIQUE,       -- hex HMAC of the token; the token itself is shown once
    prefix       text NOT NULL,              -- first characters, to tell tokens apart in listings
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Every credential timebridge keeps, sealed with AES-256-GCM; the AAD binds it to (kind, user, ref).
CREATE TABLE secrets (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    kind       text NOT NULL,                -- toggl_token, google_refresh, google_access, webhook_secret, ...
    ref        text NOT NULL DEFAULT '',     -- e.g. the workspace id of a webhook secret
    sealed     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, kind, ref)
);

-- The durable job queue. Life of a job:
--   queued  -> running (leased by one worker until lease_expires_at)
--   running -> done | failed (retry at run_after) | dead (attempts used up, or a permanent error)
--           | paused (waits for something outside, e.g. a Google reconnect; resumed explicitly)
--   running with an expired lease is taken again by any worker: the previous one died.
CREATE TYPE job_state AS ENUM ('queued', 'running', 'failed', 'dead', 'done', 'paused');

CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    user_id          bigint REFERENCES users ON DELETE CASCADE,
    dedupe_key       text,                   -- at most one unfinished job per (kind, dedupe_key)
    state            job_state NOT NULL DEFAULT 'queued',
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 8,
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    progress         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX jobs_due ON jobs (run_after, id) WHERE state IN ('queued', 'failed');
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_user ON jobs (user_id, state);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused');

-- One notification per inserting statement that added rows: identical payloads in a transaction fold
-- into one. A statement that inserted nothing must not notify: a NOTIFY holds a database-wide lock through
-- the commit, which would stop the commits of unrelated webhook deliveries from being grouped.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM jobs_new_rows) THEN
        PERFORM pg_notify('tb_jobs', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs REFERENCING NEW TABLE AS jobs_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();

-- Cron-like schedules; a worker fires a due one by moving next_run_at in the same transaction as the
-- job insert, under FOR UPDATE SKIP LOCKED, so each firing happens once across all workers.
CREATE TABLE schedules (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    user_id     bigint REFERENCES users ON DELETE CASCADE,
    cron        text NOT NULL,               -- five fields, UTC: minute hour day-of-month month day-of-week
    enabled     boolean NOT NULL DEFAULT true,
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled;

CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     bigint REFERENCES users ON DELETE SET NULL,
    action      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    remote_addr text
);
CREATE INDEX audit_log_at ON audit_log (at);
