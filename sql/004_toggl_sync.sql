-- 004_toggl_sync.sql: what the Toggl client and the sync jobs keep between runs: the quota budgets seen per
-- user and organisation, the 429 streak, the organisations' plans, and the checkpoints of history imports.

-- Toggl counts requests in separate budgets: one user-scoped (/me..., 30/hour on every plan) and one per
-- organisation (workspace, webhook and report calls; 30/240/600 per hour by plan). toggl_accounts keeps
-- the user-scoped one for display; every budget seen is here, so a new job does not spend a request to
-- learn that a budget is empty.
CREATE TABLE toggl_quota (
    user_id         bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    bucket          text NOT NULL,              -- 'user', 'org:<organization id>' or 'ws:<workspace id>'
    organization_id bigint,
    remaining       integer NOT NULL,           -- X-Toggl-Quota-Remaining (negative when not enforced)
    resets_at       timestamptz NOT NULL,       -- now + X-Toggl-Quota-Resets-In when seen
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, bucket)
);

-- 429s in a row: the exponent of the next backoff (reset by any success).
ALTER TABLE toggl_accounts ADD COLUMN rate_strikes integer NOT NULL DEFAULT 0;

CREATE TABLE toggl_organizations (
    id         bigint PRIMARY KEY,              -- Toggl's organisation id
    name       text NOT NULL DEFAULT '',
    plan       text,                            -- pricing_plan_name, e.g. "Free", "Starter"
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,   -- who connected it
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One history import (`timebridge import`, or the toggl.import job). An unfinished run of the same user and
-- range is resumed from its cursor; a session advisory lock keeps two importers of one user apart.
CREATE TABLE toggl_import_runs (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    since       date NOT NULL,
    until       date NOT NULL,                  -- inclusive
    state       text NOT NULL DEFAULT 'running',-- running | done | failed
    method      text,                           -- reports | time_entries, once chosen
    cursor      jsonb NOT NULL DEFAULT '{}',    -- where to continue: see src/toggl/import.c
    fetched     bigint NOT NULL DEFAULT 0,
    inserted    bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    deleted     bigint NOT NULL DEFAULT 0,
    requests    integer NOT NULL DEFAULT 0,
    windows     integer NOT NULL DEFAULT 0,
    splits      integer NOT NULL DEFAULT 0,
    quota_waits integer NOT NULL DEFAULT 0,
    resumes     integer NOT NULL DEFAULT 0,
    job_id      bigint,
    last_error  text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK (until >= since)
);
CREATE UNIQUE INDEX toggl_import_runs_open ON toggl_import_runs (user_id, since, until) WHERE state = 'running';
CREATE INDEX toggl_import_runs_user ON toggl_import_runs (user_id, id);

-- The entries an import run has seen, so that at its end the live entries of the range it did not see can
-- be checked one by one (deleted in Toggl, or moved): see src/toggl/import.c. Emptied when the run ends.
CREATE TABLE toggl_import_seen (
    run_id   bigint NOT NULL REFERENCES toggl_import_runs ON DELETE CASCADE,
    entry_id bigint NOT NULL,
    PRIMARY KEY (run_id, entry_id)
);
