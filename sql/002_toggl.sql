-- 002_toggl.sql: the Toggl side: connected accounts, workspace metadata, webhook subscriptions, the raw
-- events received, and the time entries themselves.

-- One Toggl connection per timebridge user. The API token is sealed in secrets (kind 'toggl_token').
CREATE TABLE toggl_accounts (
    user_id              bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    toggl_user_id        bigint NOT NULL,
    email                text,
    fullname             text,
    time_zone            text NOT NULL DEFAULT 'UTC',
    beginning_of_week    smallint NOT NULL DEFAULT 1,   -- 0 = Sunday, 1 = Monday, as Toggl says
    default_workspace_id bigint,
    status               text NOT NULL DEFAULT 'ok',    -- ok | invalid_token (a 403 from Toggl)
    status_detail        text,
    quota_remaining      integer,                       -- last X-Toggl-Quota-Remaining seen
    quota_resets_at      timestamptz,                   -- now + X-Toggl-Quota-Resets-In when seen
    rate_limited_until   timestamptz,                   -- after a 429
    last_pull_at         timestamptz,                   -- the `since` of the next reconciliation
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX toggl_accounts_toggl_user ON toggl_accounts (toggl_user_id);

CREATE TABLE toggl_workspaces (
    id              bigint PRIMARY KEY,                -- Toggl's workspace id
    organization_id bigint,
    name            text NOT NULL DEFAULT '',
    user_id         bigint NOT NULL REFERENCES users ON DELETE CASCADE,   -- who connected it
    mirror_everyone boolean NOT NULL DEFAULT false,    -- keep other members' entries too
    premium         boolean NOT NULL DEFAULT false,    -- Reports API v3 usable
    at              timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX toggl_workspaces_user ON toggl_workspaces (user_id);

CREATE TABLE toggl_clients (
    id           bigint PRIMARY KEY,
    workspace_id bigint NOT NULL,
    name         text NOT NULL,
    archived     boolean NOT NULL DEFAULT false,
    at           timestamptz,
    deleted      boolean NOT NULL DEFAULT false
);
CREATE INDEX toggl_clients_ws ON toggl_clients (workspace_id);

CREATE TABLE toggl_projects (
    id           bigint PRIMARY KEY,
    workspace_id bigint NOT NULL,
    client_id    bigint,
    name         text NOT NULL,
    color        text,                                  -- "#2da608"
    active       boolean NOT NULL DEFAULT true,
    billable     boolean NOT NULL DEFAULT false,
    rate         numeric(12, 2),                        -- hourly rate, when set
    currency     text,
    at           timestamptz,
    deleted      boolean NOT NULL DEFAULT false
);
CREATE INDEX toggl_projects_ws ON toggl_projects (workspace_id);

CREATE TABLE toggl_tags (
    id           bigint PRIMARY KEY,
    workspace_id bigint NOT NULL,
    name         text NOT NULL,
    at           timestamptz,
    deleted      boolean NOT NULL DEFAULT false
);
CREATE INDEX toggl_tags_ws ON toggl_tags (workspace_id, name);

-- Our webhook subscriptions. The URL token is looked up by its hash; the signing secret is sealed in
-- secrets (kind 'webhook_secret', ref = this row's id).
CREATE TABLE webhook_subscriptions (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    workspace_id    bigint NOT NULL,
    subscription_id bigint,                             -- Toggl's id, once created
    token_hash      text NOT NULL UNIQUE,
    description     text NOT NULL,
    url_callback    text NOT NULL,
    event_filters   jsonb NOT NULL DEFAULT '[]',
    enabled         boolean NOT NULL DEFAULT true,
    validated_at    timestamptz,
    has_pending     boolean NOT NULL DEFAULT false,
    last_event_at   timestamptz,
    revoked_at      timestamptz,                        -- removed: the URL answers 404
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX webhook_subscriptions_live ON webhook_subscriptions (user_id, workspace_id)
    WHERE revoked_at IS NULL;

-- Every delivery we accepted, for audit and replay; deduplicated on (subscription, event_id).
CREATE TABLE webhook_events (
    id             bigserial PRIMARY KEY,
    subscription   bigint NOT NULL REFERENCES webhook_subscriptions ON DELETE CASCADE,
    event_id       bigint NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    model          text,
    action         text,
    result         text NOT NULL,                       -- applied | stale | ignored | ping
    body           jsonb NOT NULL,
    UNIQUE (subscription, event_id)
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);

-- Time entries as Toggl has them. `at` is Toggl's last-change time: an older update never overwrites a
-- newer one. `version` counts our own changes to the row, so a sync job can tell it read a stale copy.
-- A running entry has stop NULL and a negative duration; nothing ever counts a negative duration.
CREATE TABLE time_entries (
    id                bigint PRIMARY KEY,               -- Toggl's time entry id
    user_id           bigint NOT NULL REFERENCES users ON DELETE CASCADE,   -- the timebridge user it belongs to
    toggl_user_id     bigint NOT NULL,
    workspace_id      bigint NOT NULL,
    project_id        bigint,
    task_id           bigint,
    description       text,
    billable          boolean NOT NULL DEFAULT false,
    start             timestamptz NOT NULL,
    stop              timestamptz,                      -- NULL while running
    duration          bigint NOT NULL,                  -- seconds; negative while running
    tags              text[] NOT NULL DEFAULT '{}',
    tag_ids           bigint[] NOT NULL DEFAULT '{}',
    at                timestamptz NOT NULL,
    server_deleted_at timestamptz,                      -- tombstone
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX time_entries_user_start ON time_entries (user_id, start);
CREATE INDEX time_entries_running ON time_entries (user_id) WHERE stop IS NULL AND server_deleted_at IS NULL;
CREATE INDEX time_entries_updated ON time_entries (updated_at);
