/* stmt.c: the text of every SQL statement, indexed by enum stmt. Parameters only ($1..$n): never build
 * SQL from strings. Each feature keeps its statements in one block, in the order of stmt.h. */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include "db/stmt.h"

#define JOB_COLS "id, kind, payload::text, user_id, attempts, max_attempts"

static const char *const stmt_text[STMT__MAX] = {
	[STMT_PING] = "SELECT 1",
	[STMT_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
	[STMT_SET_STATEMENT_TIMEOUT] = "SELECT set_config('statement_timeout', $1, false)",
	/* One advisory lock key for all migrators; the number is "tbmi" in ASCII. */
	[STMT_MIGRATE_LOCK] = "SELECT pg_advisory_lock(1952607593)",
	[STMT_MIGRATE_UNLOCK] = "SELECT pg_advisory_unlock(1952607593)",
	[STMT_MIGRATE_INIT] =
	    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())",
	[STMT_MIGRATE_APPLIED] = "SELECT 1 FROM schema_migrations WHERE version = $1::int",
	[STMT_MIGRATE_RECORD] = "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",

	/* users */
	[STMT_USER_INSERT] =
	    "INSERT INTO users (email, password_hash, is_admin) VALUES ($1, $2, $3::boolean) RETURNING id",
	[STMT_USER_BY_EMAIL] =
	    "SELECT id, email, password_hash, is_admin, time_zone, disabled FROM users WHERE lower(email) = lower($1)",
	[STMT_USER_BY_ID] =
	    "SELECT id, email, password_hash, is_admin, time_zone, disabled FROM users WHERE id = $1::bigint",
	[STMT_USER_SET_PASSWORD] =
	    "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1::bigint",
	[STMT_USER_LIST] =
	    "SELECT id, email, is_admin, time_zone, disabled, created_at FROM users ORDER BY id",
	[STMT_USER_SET_ADMIN] =
	    "UPDATE users SET is_admin = $2::boolean, updated_at = now() WHERE id = $1::bigint",
	[STMT_USER_SET_DISABLED] =
	    "UPDATE users SET disabled = $2::boolean, updated_at = now() WHERE id = $1::bigint",
	[STMT_USER_COUNT] = "SELECT count(*) FROM users",

	/* sessions: looked up by the hash of the id; one round trip checks both expiries and touches it */
	[STMT_SESSION_INSERT] =
	    "INSERT INTO sessions (id_hash, user_id, expires_at, remote_addr) "
	    "VALUES ($1, $2::bigint, now() + make_interval(secs => $3::int), $4)",
	[STMT_SESSION_GET] =
	    "UPDATE sessions s SET last_seen_at = now() FROM users u "
	    "WHERE s.id_hash = $1 AND u.id = s.user_id AND s.expires_at > now() "
	    "AND s.last_seen_at > now() - make_interval(secs => $2::int) AND NOT u.disabled "
	    "RETURNING u.id, u.email, u.is_admin, u.time_zone",
	[STMT_SESSION_DELETE] = "DELETE FROM sessions WHERE id_hash = $1",
	[STMT_SESSION_DELETE_USER] = "DELETE FROM sessions WHERE user_id = $1::bigint",
	[STMT_SESSION_PURGE] =
	    "DELETE FROM sessions WHERE expires_at < now() OR last_seen_at < now() - make_interval(secs => $1::int)",

	/* API tokens */
	[STMT_TOKEN_INSERT] =
	    "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES ($1::bigint, $2, $3, $4) RETURNING id",
	[STMT_TOKEN_LOOKUP] =
	    "SELECT u.id, u.email, u.is_admin, u.time_zone, t.id, "
	    "t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' "
	    "FROM api_tokens t JOIN users u ON u.id = t.user_id "
	    "WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
	[STMT_TOKEN_TOUCH] = "UPDATE api_tokens SET last_used_at = now() WHERE id = $1::bigint",
	[STMT_TOKEN_LIST] =
	    "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens "
	    "WHERE user_id = $1::bigint ORDER BY id",
	[STMT_TOKEN_REVOKE] =
	    "UPDATE api_tokens SET revoked_at = now() WHERE id = $1::bigint AND user_id = $2::bigint "
	    "AND revoked_at IS NULL",

	/* sealed secrets */
	[STMT_SECRET_PUT] =
	    "INSERT INTO secrets (user_id, kind, ref, sealed) VALUES ($1::bigint, $2, $3, $4) "
	    "ON CONFLICT (user_id, kind, ref) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()",
	[STMT_SECRET_GET] =
	    "SELECT sealed FROM secrets WHERE user_id = $1::bigint AND kind = $2 AND ref = $3",
	[STMT_SECRET_DELETE] =
	    "DELETE FROM secrets WHERE user_id = $1::bigint AND kind = $2 AND ref = $3",

	/* jobs. A second enqueue of an unfinished (kind, dedupe_key) folds into the first: newest payload,
	 * earliest run time. */
	[STMT_JOB_INSERT] =
	    "INSERT INTO jobs (kind, payload, user_id, dedupe_key, run_after, max_attempts) "
	    "VALUES ($1, $2::jsonb, $3::bigint, $4, now() + make_interval(secs => coalesce($5::float8, 0)), "
	    "coalesce($6::int, 8)) "
	    "ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused') "
	    "DO UPDATE SET payload = EXCLUDED.payload, run_after = least(jobs.run_after, EXCLUDED.run_after), "
	    "updated_at = now() RETURNING id",
	[STMT_JOB_CLAIM] =
	    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, "
	    "lease_expires_at = now() + make_interval(secs => $2::int), updated_at = now() "
	    "WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'failed') AND run_after <= now() "
	    "ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
	    "RETURNING " JOB_COLS,
	[STMT_JOB_DONE] =
	    "UPDATE jobs SET state = 'done', finished_at = now(), updated_at = now(), lease_owner = NULL, "
	    "lease_expires_at = NULL, last_error = NULL WHERE id = $1::bigint AND lease_owner = $2 AND state = 'running'",
	[STMT_JOB_FAIL] =
	    "UPDATE jobs SET state = 'failed', run_after = now() + make_interval(secs => $3::float8), "
	    "last_error = $4, lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
	    "WHERE id = $1::bigint AND lease_owner = $2 AND state = 'running'",
	[STMT_JOB_DEAD] =
	    "UPDATE jobs SET state = 'dead', last_error = $3, lease_owner = NULL, lease_expires_at = NULL, "
	    "finished_at = now(), updated_at = now() WHERE id = $1::bigint AND lease_owner = $2 AND state = 'running'",
	/* Come back later without using up an attempt: queued again, with the reason kept for the admin. */
	[STMT_JOB_DEFER] =
	    "UPDATE jobs SET state = 'queued', run_after = now() + make_interval(secs => $3::float8), "
	    "last_error = $4, attempts = greatest(attempts - 1, 0), lease_owner = NULL, lease_expires_at = NULL, "
	    "updated_at = now() WHERE id = $1::bigint AND lease_owner = $2 AND state = 'running'",
	[STMT_JOB_PAUSE] =
	    "UPDATE jobs SET state = 'paused', last_error = $3, attempts = greatest(attempts - 1, 0), "
	    "lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
	    "WHERE id = $1::bigint AND lease_owner = $2 AND state = 'running'",
	[STMT_JOB_RESUME_USER] =
	    "WITH r AS (UPDATE jobs SET state = 'queued', run_after = now(), updated_at = now() "
	    "WHERE user_id = $1::bigint AND state = 'paused' AND kind LIKE $2 RETURNING id) "
	    "SELECT count(*), pg_notify('tb_jobs', '') FROM r",
	[STMT_JOB_EXTEND_LEASE] =
	    "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3::int) "
	    "WHERE id = $1::bigint AND lease_owner = $2 AND state = 'running'",
	[STMT_JOB_PROGRESS] =
	    "UPDATE jobs SET progress = $3::jsonb, lease_expires_at = now() + make_interval(secs => $4::int), "
	    "updated_at = now() WHERE id = $1::bigint AND lease_owner = $2 AND state = 'running'",
	[STMT_JOB_GET] =
	    "SELECT id, kind, payload::text, user_id, state, attempts, max_attempts, run_after, last_error, "
	    "progress::text, created_at, updated_at FROM jobs WHERE id = $1::bigint",
	[STMT_JOB_LIST] =
	    "SELECT id, kind, state, attempts, max_attempts, run_after, last_error, user_id, created_at, "
	    "updated_at, payload::text FROM jobs WHERE ($1::job_state IS NULL OR state = $1::job_state) "
	    "AND ($2::bigint IS NULL OR user_id = $2::bigint) ORDER BY id DESC LIMIT $3::int OFFSET $4::int",
	[STMT_JOB_COUNT_BY_STATE] =
	    "SELECT s.state::text, count(j.id) FROM unnest(enum_range(NULL::job_state)) s(state) "
	    "LEFT JOIN jobs j ON j.state = s.state AND ($1::bigint IS NULL OR j.user_id = $1::bigint) "
	    "GROUP BY s.state ORDER BY s.state",
	[STMT_JOB_RETRY] =
	    "WITH r AS (UPDATE jobs SET state = 'queued', run_after = now(), attempts = 0, updated_at = now() "
	    "WHERE id = $1::bigint AND state IN ('failed', 'dead', 'paused') "
	    "AND ($2::bigint IS NULL OR user_id = $2::bigint) RETURNING id) "
	    "SELECT id, pg_notify('tb_jobs', '') FROM r",
	[STMT_JOB_RETRY_DEAD] =
	    "WITH r AS (UPDATE jobs SET state = 'queued', run_after = now(), attempts = 0, updated_at = now() "
	    "WHERE state = 'dead' AND ($1::bigint IS NULL OR user_id = $1::bigint) RETURNING id) "
	    "SELECT count(*), pg_notify('tb_jobs', '') FROM r",
	/* A lease that ran out means its worker died mid-job: make the job due again (or dead if it
	 * already used every attempt). */
	[STMT_JOB_REAP] =
	    "UPDATE jobs SET state = (CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END)::job_state, "
	    "last_error = 'lease expired: the worker ' || coalesce(lease_owner, '?') || ' stopped mid-job', "
	    "run_after = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
	    "WHERE state = 'running' AND lease_expires_at < now() RETURNING id",
	[STMT_JOB_PURGE_DONE] =
	    "DELETE FROM jobs WHERE state = 'done' AND finished_at < now() - make_interval(secs => $1::int)",
	[STMT_JOB_NEXT_DUE] =
	    "SELECT (extract(epoch FROM min(run_after) - now()) * 1000)::bigint FROM jobs "
	    "WHERE state IN ('queued', 'failed')",
	/* The worker's wake-up channel; the jobs_notify trigger and the retry statements notify it. */
	[STMT_JOB_LISTEN] = "LISTEN tb_jobs",

	/* schedules */
	[STMT_SCHEDULE_UPSERT] =
	    "INSERT INTO schedules (name, kind, payload, user_id, cron, next_run_at) "
	    "VALUES ($1, $2, $3::jsonb, $4::bigint, $5, $6::timestamptz) ON CONFLICT (name) DO UPDATE SET "
	    "kind = EXCLUDED.kind, payload = EXCLUDED.payload, user_id = EXCLUDED.user_id, enabled = true, "
	    "next_run_at = CASE WHEN schedules.cron = EXCLUDED.cron THEN schedules.next_run_at "
	    "ELSE EXCLUDED.next_run_at END, cron = EXCLUDED.cron RETURNING id",
	/* The last two columns let the worker plan the next run from the database's clock, never earlier
	 * than the slot that fired (a host clock running behind must not fire the same slot twice). */
	[STMT_SCHEDULE_CLAIM_DUE] =
	    "SELECT id, name, kind, payload::text, user_id, cron, extract(epoch FROM now())::float8, "
	    "extract(epoch FROM next_run_at)::float8 FROM schedules "
	    "WHERE enabled AND next_run_at <= now() ORDER BY next_run_at LIMIT 32 FOR UPDATE SKIP LOCKED",
	[STMT_SCHEDULE_ADVANCE] =
	    "UPDATE schedules SET next_run_at = $2::timestamptz, last_run_at = now() WHERE id = $1::bigint",
	[STMT_SCHEDULE_LIST] =
	    "SELECT id, name, kind, cron, enabled, next_run_at, last_run_at, user_id FROM schedules ORDER BY name",
	[STMT_SCHEDULE_DELETE] = "DELETE FROM schedules WHERE name = $1",
	[STMT_SCHEDULE_NEXT_DUE] =
	    "SELECT (extract(epoch FROM min(next_run_at) - now()) * 1000)::bigint FROM schedules WHERE enabled",

	/* settings and audit */
	[STMT_SETTING_GET] = "SELECT value FROM settings WHERE key = $1",
	[STMT_SETTING_PUT] =
	    "INSERT INTO settings (key, value) VALUES ($1, $2) "
	    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
	[STMT_SETTING_LIST] = "SELECT key, value, updated_at FROM settings ORDER BY key",
	[STMT_AUDIT_INSERT] =
	    "INSERT INTO audit_log (user_id, action, detail, remote_addr) VALUES ($1::bigint, $2, $3::jsonb, $4)",

	/* -- feature blocks, in the order of stmt.h -- */

	/* toggl (issue 3) */
	/* toggl webhook receiver (h_webhook.c). Every event is in ONE statement: a data-modifying CTE that
	 * re-checks the subscription is live (revocation answers 404 at once, despite the token cache),
	 * records the raw event deduplicated on (subscription, event_id), applies the change and touches the
	 * subscription, all in one implicit transaction (the time_entries triggers, e.g. Google's job
	 * queueing and its NOTIFY, commit with it). Common parameters: $1 subscription row id, $2 event_id, $3
	 * raw body, $4 model, $5 action, $6 LIMIT_WEBHOOK_TOUCH_S (entry upserts, batched, are the exception
	 * below). The result row: (live subscriptions: 0 or 1, the recorded result or NULL for a duplicate,
	 * rows changed: 0 or 1).
	 * Deduplication is the event insert's ON CONFLICT, whose arbiter is always the unique index: a lookup
	 * the planner could turn into a scan (a generic plan made while the table was empty did, once per
	 * event) is not used for it. The change is applied only when that insert took the event. The recorded
	 * result is judged on the statement's snapshot ("cur"); the data rule itself is enforced under the row
	 * lock by ON CONFLICT ... WHERE, so a concurrent change can only make the label, never the data, wrong.
	 * last_event_at is written at most once per $6 seconds, so concurrent deliveries do not queue on the
	 * subscription row's lock. */
#define WEBHOOK_SUB \
	    "WITH sub AS (SELECT s.id, s.user_id, s.workspace_id FROM webhook_subscriptions s " \
	    "WHERE s.id = $1::bigint AND s.revoked_at IS NULL), "
#define WEBHOOK_EVENT(result) \
	    "ev AS (INSERT INTO webhook_events (subscription, event_id, model, action, result, body) " \
	    "SELECT sub.id, $2::bigint, $4, $5, " result ", $3::jsonb FROM sub " \
	    "ON CONFLICT (subscription, event_id) DO NOTHING RETURNING subscription, result), " \
	    "touch AS (UPDATE webhook_subscriptions SET last_event_at = now() WHERE id = (SELECT subscription FROM ev) " \
	    "AND (last_event_at IS NULL OR last_event_at < now() - make_interval(secs => $6::int))), "
#define WEBHOOK_END "SELECT (SELECT count(*) FROM sub), (SELECT result FROM ev), (SELECT count(*) FROM up)"
	/* Entries: whose they are. The connected user's own (toggl_accounts), or anyone's when the workspace
	 * mirrors everyone; and only from the subscription's workspace. A new row belongs to the timebridge
	 * user whose Toggl account owns the entry when that person is connected, else to the subscriber.
	 * "new" is the row as the event has it. */
#define WEBHOOK_ENTRY_NEW(owner, tuid) \
	    "me AS (SELECT a.toggl_user_id AS tid, coalesce(w.mirror_everyone, false) AS everyone FROM sub " \
	    "LEFT JOIN toggl_accounts a ON a.user_id = sub.user_id " \
	    "LEFT JOIN toggl_workspaces w ON w.id = sub.workspace_id), " \
	    "cur AS (SELECT t.* FROM time_entries t WHERE t.id = $7::bigint), " \
	    "want AS (SELECT coalesce((SELECT o.user_id FROM toggl_accounts o WHERE o.toggl_user_id = $8::bigint), " \
	    "sub.user_id) AS owner, sub.workspace_id, me.tid FROM sub, me " \
	    "WHERE coalesce($9::bigint, sub.workspace_id) = sub.workspace_id AND (me.everyone OR " owner " = me.tid)), " \
	    "new AS (SELECT want.owner, " tuid " AS toggl_user_id, want.workspace_id, $10::bigint AS project_id, " \
	    "$11::bigint AS task_id, $12::text AS description, coalesce($13::boolean, false) AS billable, " \
	    "coalesce($14::timestamptz, $20::timestamptz) AS start, $15::timestamptz AS stop, " \
	    "coalesce($16::bigint, 0) AS duration, ARRAY(SELECT jsonb_array_elements_text($17::jsonb)) AS tags, " \
	    "ARRAY(SELECT jsonb_array_elements_text($18::jsonb)::bigint) AS tag_ids, " \
	    "coalesce($19::timestamptz, $20::timestamptz) AS at, $20::timestamptz AS server_deleted_at FROM want), "
#define WEBHOOK_ENTRY_COLS \
	    "toggl_user_id, workspace_id, project_id, task_id, description, billable, start, stop, duration, tags, " \
	    "tag_ids, at"
#define WEBHOOK_ENTRY_ROW_BARE(p) \
	    p "toggl_user_id, " p "workspace_id, " p "project_id, " p "task_id, " p "description, " p "billable, " \
	    p "start, " p "stop, " p "duration, " p "tags, " p "tag_ids, " p "at"
#define WEBHOOK_ENTRY_ROW(p) "(" WEBHOOK_ENTRY_ROW_BARE(p) ")"
	/* Created/updated, for a batch of events from concurrent deliveries (group commit, db_group.c): one
	 * statement and one commit for all of them, each event judged and applied as if alone, by the rules
	 * of the single-event statements here. A lone delivery is a batch of one. $1 a JSON array with one
	 * [raw body, {fields}] pair per event, the fields named by the record below (sub: subscription row
	 * id; owner: the entry's Toggl user; ws: its workspace); $2 their subscription ids and $3 their entry
	 * ids as arrays (so the lookups stay index scans whatever the planner guesses of $1); $4
	 * LIMIT_WEBHOOK_TOUCH_S; $5 LIMIT_TOGGL_METADATA_DELAY_S. No two events of a batch name the same entry
	 * (an INSERT may not change one row twice). Rows are inserted in key order, so batches of two
	 * processes lock what they share in the same order.
	 * Applied only when `at` is not older than ours and something differs, never on a tombstone; every
	 * real change bumps version and updated_at. A stored entry that names a project or tag we do not know
	 * (a client comes with its project) asks for a metadata refresh in the same statement, not in another
	 * round trip: the SQL function toggl_metadata_request() (sql/008_toggl_metadata.sql) queues one
	 * toggl.metadata job of the entry's owner, folded by dedupe key. It is called only then: an INSERT
	 * INTO jobs in the statement itself would cost every event.
	 * One result row per event, in input order: (ordinal, live subscription 0/1, recorded result or NULL
	 * for a duplicate, entry changed 0/1, metadata refresh queued). */
	[STMT_WEBHOOK_ENTRY_BATCH] =
	    "WITH x AS (SELECT e.ord, e.v->0 AS body, f.* FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY "
	    "AS e(v, ord), jsonb_to_record(e.v->1) AS f(sub bigint, event_id bigint, model text, action text, "
	    "id bigint, owner bigint, ws bigint, project_id bigint, task_id bigint, description text, "
	    "billable boolean, start timestamptz, stop timestamptz, duration bigint, tags text[], tag_ids bigint[], "
	    "at timestamptz)), "
	    "sub AS (SELECT s.id, s.user_id, s.workspace_id, a.toggl_user_id AS tid, "
	    "coalesce(w.mirror_everyone, false) AS everyone FROM webhook_subscriptions s "
	    "LEFT JOIN toggl_accounts a ON a.user_id = s.user_id LEFT JOIN toggl_workspaces w ON w.id = s.workspace_id "
	    "WHERE s.id = ANY($2::bigint[]) AND s.revoked_at IS NULL), "
	    "cur AS (SELECT t.* FROM time_entries t WHERE t.id = ANY($3::bigint[])), "
	    "new AS (SELECT x.ord, x.sub, x.event_id, x.id, coalesce((SELECT o.user_id FROM toggl_accounts o "
	    "WHERE o.toggl_user_id = x.owner), sub.user_id) AS owner, x.owner AS toggl_user_id, sub.workspace_id, "
	    "x.project_id, x.task_id, x.description, coalesce(x.billable, false) AS billable, x.start, x.stop, "
	    "coalesce(x.duration, 0) AS duration, coalesce(x.tags, '{}') AS tags, coalesce(x.tag_ids, '{}') AS tag_ids, "
	    "x.at FROM x JOIN sub ON sub.id = x.sub "
	    "WHERE coalesce(x.ws, sub.workspace_id) = sub.workspace_id AND (sub.everyone OR x.owner = sub.tid)), "
	    "verdict AS (SELECT x.ord, CASE WHEN new.ord IS NULL THEN 'foreign' WHEN cur.id IS NULL THEN 'applied' "
	    "WHEN cur.server_deleted_at IS NOT NULL OR cur.at > new.at THEN 'stale' "
	    "WHEN " WEBHOOK_ENTRY_ROW("cur.") " IS NOT DISTINCT FROM " WEBHOOK_ENTRY_ROW("new.") " THEN 'unchanged' "
	    "ELSE 'applied' END AS result FROM x JOIN sub ON sub.id = x.sub LEFT JOIN new ON new.ord = x.ord "
	    "LEFT JOIN cur ON cur.id = x.id), "
	    "ev AS (INSERT INTO webhook_events (subscription, event_id, model, action, result, body) "
	    "SELECT x.sub, x.event_id, x.model, x.action, verdict.result, x.body FROM x JOIN verdict ON verdict.ord = x.ord "
	    "ORDER BY x.sub, x.event_id ON CONFLICT (subscription, event_id) DO NOTHING "
	    "RETURNING subscription, event_id, result), "
	    "touch AS (UPDATE webhook_subscriptions SET last_event_at = now() WHERE id IN (SELECT subscription FROM ev) "
	    "AND (last_event_at IS NULL OR last_event_at < now() - make_interval(secs => $4::int))), "
	    "up AS (INSERT INTO time_entries AS t (id, user_id, " WEBHOOK_ENTRY_COLS ") "
	    "SELECT new.id, new.owner, " WEBHOOK_ENTRY_ROW_BARE("new.") " FROM new JOIN ev "
	    "ON ev.subscription = new.sub AND ev.event_id = new.event_id ORDER BY new.id "
	    "ON CONFLICT (id) DO UPDATE SET toggl_user_id = EXCLUDED.toggl_user_id, "
	    "workspace_id = EXCLUDED.workspace_id, project_id = EXCLUDED.project_id, task_id = EXCLUDED.task_id, "
	    "description = EXCLUDED.description, billable = EXCLUDED.billable, start = EXCLUDED.start, "
	    "stop = EXCLUDED.stop, duration = EXCLUDED.duration, tags = EXCLUDED.tags, tag_ids = EXCLUDED.tag_ids, "
	    "at = EXCLUDED.at, version = t.version + 1, updated_at = now() "
	    "WHERE t.server_deleted_at IS NULL AND EXCLUDED.at >= t.at AND " WEBHOOK_ENTRY_ROW("t.")
	    " IS DISTINCT FROM " WEBHOOK_ENTRY_ROW("EXCLUDED.") " RETURNING t.id) "
	    "SELECT x.ord, (sub.id IS NOT NULL)::int, ev.result, (up.id IS NOT NULL)::int, "
	    "CASE WHEN up.id IS NOT NULL AND ((new.project_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM toggl_projects p "
	    "WHERE p.id = new.project_id)) OR EXISTS (SELECT 1 FROM unnest(new.tag_ids) AS u(id) "
	    "WHERE NOT EXISTS (SELECT 1 FROM toggl_tags g WHERE g.id = u.id))) "
	    "THEN toggl_metadata_request(new.owner, $5::int) ELSE false END "
	    "FROM x LEFT JOIN sub ON sub.id = x.sub LEFT JOIN ev ON ev.subscription = x.sub AND ev.event_id = x.event_id "
	    "LEFT JOIN up ON up.id = x.id LEFT JOIN new ON new.ord = x.ord ORDER BY x.ord",
	/* Deleted: $7 entry id, $8 its Toggl user, $9 workspace, $10 project, $11 task, $12 description, $13
	 * billable, $14 start, $15 stop, $16 duration, $17 tags and $18 tag_ids (JSON arrays), $19 at, $20 the
	 * tombstone time. A delete wins over any update: it applies to any live row whatever its `at`; an
	 * entry never seen is stored as a tombstone, so a late create or update of it cannot resurrect it. Its
	 * owner may be absent from the payload: then the stored row's. */
	[STMT_WEBHOOK_ENTRY_DELETE] =
	    WEBHOOK_SUB WEBHOOK_ENTRY_NEW("coalesce($8::bigint, (SELECT cur.toggl_user_id FROM cur))",
	    "coalesce($8::bigint, (SELECT cur.toggl_user_id FROM cur), want.tid, 0)")
	    WEBHOOK_EVENT("CASE WHEN NOT EXISTS (SELECT 1 FROM new) THEN 'foreign' "
	    "WHEN EXISTS (SELECT 1 FROM cur WHERE cur.server_deleted_at IS NOT NULL) THEN 'unchanged' "
	    "ELSE 'applied' END")
	    "up AS (INSERT INTO time_entries AS t (id, user_id, " WEBHOOK_ENTRY_COLS ", server_deleted_at) "
	    "SELECT $7::bigint, new.owner, " WEBHOOK_ENTRY_COLS ", server_deleted_at FROM new, ev "
	    "ON CONFLICT (id) DO UPDATE SET server_deleted_at = EXCLUDED.server_deleted_at, "
	    "at = greatest(t.at, EXCLUDED.at), version = t.version + 1, updated_at = now() "
	    "WHERE t.server_deleted_at IS NULL RETURNING 1) " WEBHOOK_END,
	/* Metadata. A deleted object stays deleted (Toggl cannot restore one); otherwise an event applies
	 * unless ours has a newer `at`. Only the subscription's workspace. $7 id, $8 workspace, then per
	 * table; the last parameter says "deleted". */
#define WEBHOOK_META_WANT \
	    "want AS (SELECT sub.* FROM sub WHERE coalesce($8::bigint, sub.workspace_id) = sub.workspace_id), "
#define WEBHOOK_META_RESULT2(curcols, newcols) \
	    WEBHOOK_EVENT("CASE WHEN NOT EXISTS (SELECT 1 FROM new) THEN 'foreign' " \
	    "WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 'applied' " \
	    "WHEN EXISTS (SELECT 1 FROM cur, new WHERE cur.deleted OR NOT (new.deleted OR cur.at IS NULL " \
	    "OR new.at IS NULL OR new.at >= cur.at)) THEN 'stale' " \
	    "WHEN EXISTS (SELECT 1 FROM cur, new WHERE (" curcols ") IS NOT DISTINCT FROM (" newcols ")) " \
	    "THEN 'unchanged' ELSE 'applied' END")
#define WEBHOOK_META_APPLY(alias) \
	    "WHERE NOT " alias ".deleted AND (EXCLUDED.deleted OR " alias ".at IS NULL OR EXCLUDED.at IS NULL " \
	    "OR EXCLUDED.at >= " alias ".at) AND "
	/* $9 client_id, $10 name, $11 color, $12 active, $13 billable, $14 rate, $15 currency, $16 at,
	 * $17 deleted */
	[STMT_WEBHOOK_PROJECT] =
	    WEBHOOK_SUB WEBHOOK_META_WANT
	    "cur AS (SELECT p.* FROM toggl_projects p WHERE p.id = $7::bigint), "
	    "new AS (SELECT want.workspace_id, $9::bigint AS client_id, coalesce($10::text, '') AS name, "
	    "$11::text AS color, coalesce($12::boolean, true) AS active, coalesce($13::boolean, false) AS billable, "
	    "$14::numeric(12, 2) AS rate, $15::text AS currency, $16::timestamptz AS at, $17::boolean AS deleted "
	    "FROM want), "
	    WEBHOOK_META_RESULT2("cur.client_id, cur.name, cur.color, cur.active, cur.billable, cur.rate, cur.currency, "
	    "cur.at, cur.deleted", "new.client_id, new.name, new.color, new.active, new.billable, new.rate, "
	    "new.currency, new.at, new.deleted")
	    "up AS (INSERT INTO toggl_projects AS p (id, workspace_id, client_id, name, color, active, billable, "
	    "rate, currency, at, deleted) SELECT $7::bigint, new.workspace_id, new.client_id, new.name, new.color, "
	    "new.active, new.billable, new.rate, new.currency, new.at, new.deleted FROM new, ev "
	    "ON CONFLICT (id) DO UPDATE SET "
	    "client_id = CASE WHEN EXCLUDED.deleted THEN p.client_id ELSE EXCLUDED.client_id END, "
	    "name = CASE WHEN EXCLUDED.deleted THEN p.name ELSE EXCLUDED.name END, "
	    "color = CASE WHEN EXCLUDED.deleted THEN p.color ELSE EXCLUDED.color END, "
	    "active = CASE WHEN EXCLUDED.deleted THEN p.active ELSE EXCLUDED.active END, "
	    "billable = CASE WHEN EXCLUDED.deleted THEN p.billable ELSE EXCLUDED.billable END, "
	    "rate = CASE WHEN EXCLUDED.deleted THEN p.rate ELSE EXCLUDED.rate END, "
	    "currency = CASE WHEN EXCLUDED.deleted THEN p.currency ELSE EXCLUDED.currency END, "
	    "at = greatest(p.at, EXCLUDED.at), deleted = EXCLUDED.deleted "
	    WEBHOOK_META_APPLY("p") "(p.client_id, p.name, p.color, p.active, p.billable, p.rate, p.currency, "
	    "p.at, p.deleted) IS DISTINCT FROM (EXCLUDED.client_id, EXCLUDED.name, EXCLUDED.color, "
	    "EXCLUDED.active, EXCLUDED.billable, EXCLUDED.rate, EXCLUDED.currency, EXCLUDED.at, EXCLUDED.deleted) "
	    "RETURNING 1) " WEBHOOK_END,
	/* $9 name, $10 archived, $11 at, $12 deleted */
	[STMT_WEBHOOK_CLIENT] =
	    WEBHOOK_SUB WEBHOOK_META_WANT
	    "cur AS (SELECT c.* FROM toggl_clients c WHERE c.id = $7::bigint), "
	    "new AS (SELECT want.workspace_id, coalesce($9::text, '') AS name, coalesce($10::boolean, false) AS archived, "
	    "$11::timestamptz AS at, $12::boolean AS deleted FROM want), "
	    WEBHOOK_META_RESULT2("cur.name, cur.archived, cur.at, cur.deleted",
	    "new.name, new.archived, new.at, new.deleted")
	    "up AS (INSERT INTO toggl_clients AS c (id, workspace_id, name, archived, at, deleted) "
	    "SELECT $7::bigint, new.workspace_id, new.name, new.archived, new.at, new.deleted FROM new, ev "
	    "ON CONFLICT (id) DO UPDATE SET name = CASE WHEN EXCLUDED.deleted THEN c.name ELSE EXCLUDED.name END, "
	    "archived = CASE WHEN EXCLUDED.deleted THEN c.archived ELSE EXCLUDED.archived END, "
	    "at = greatest(c.at, EXCLUDED.at), deleted = EXCLUDED.deleted "
	    WEBHOOK_META_APPLY("c") "(c.name, c.archived, c.at, c.deleted) IS DISTINCT FROM "
	    "(EXCLUDED.name, EXCLUDED.archived, EXCLUDED.at, EXCLUDED.deleted) RETURNING 1) " WEBHOOK_END,
	/* $9 name, $10 at, $11 deleted */
	[STMT_WEBHOOK_TAG] =
	    WEBHOOK_SUB WEBHOOK_META_WANT
	    "cur AS (SELECT g.* FROM toggl_tags g WHERE g.id = $7::bigint), "
	    "new AS (SELECT want.workspace_id, coalesce($9::text, '') AS name, $10::timestamptz AS at, "
	    "$11::boolean AS deleted FROM want), "
	    WEBHOOK_META_RESULT2("cur.name, cur.at, cur.deleted", "new.name, new.at, new.deleted")
	    "up AS (INSERT INTO toggl_tags AS g (id, workspace_id, name, at, deleted) "
	    "SELECT $7::bigint, new.workspace_id, new.name, new.at, new.deleted FROM new, ev "
	    "ON CONFLICT (id) DO UPDATE SET name = CASE WHEN EXCLUDED.deleted THEN g.name ELSE EXCLUDED.name END, "
	    "at = greatest(g.at, EXCLUDED.at), deleted = EXCLUDED.deleted "
	    WEBHOOK_META_APPLY("g") "(g.name, g.at, g.deleted) IS DISTINCT FROM "
	    "(EXCLUDED.name, EXCLUDED.at, EXCLUDED.deleted) RETURNING 1) " WEBHOOK_END,
	/* Anything else (unknown model or action, an entity we do not keep): recorded only. $7 the result. */
	[STMT_WEBHOOK_RECORD] =
	    WEBHOOK_SUB WEBHOOK_EVENT("$7::text") "up AS (SELECT 1 WHERE false) " WEBHOOK_END,
#undef WEBHOOK_SUB
#undef WEBHOOK_EVENT
#undef WEBHOOK_END
#undef WEBHOOK_ENTRY_NEW
#undef WEBHOOK_ENTRY_COLS
#undef WEBHOOK_ENTRY_ROW
#undef WEBHOOK_META_WANT
#undef WEBHOOK_META_RESULT2
#undef WEBHOOK_META_APPLY
	/* The token of a live subscription, with its sealed signing secret (NULL when missing). */
	[STMT_WEBHOOK_SUB_BY_TOKEN] =
	    "SELECT s.id, s.user_id, s.workspace_id, x.sealed FROM webhook_subscriptions s "
	    "LEFT JOIN secrets x ON x.user_id = s.user_id AND x.kind = 'webhook_secret' AND x.ref = s.id::text "
	    "WHERE s.token_hash = $1 AND s.revoked_at IS NULL",
	/* A ping: $1 subscription, $2 raw body, $3 it carried a validation code (which we echo: validated).
	 * Pings all carry event_id 0, so the last one is kept rather than deduplicated. Returns live count. */
	[STMT_WEBHOOK_PING] =
	    "WITH sub AS (SELECT id FROM webhook_subscriptions WHERE id = $1::bigint AND revoked_at IS NULL), "
	    "v AS (UPDATE webhook_subscriptions SET validated_at = now(), updated_at = now() "
	    "WHERE id = (SELECT id FROM sub) AND $3::boolean), "
	    "ev AS (INSERT INTO webhook_events (subscription, event_id, model, action, result, body) "
	    "SELECT id, 0, 'ping', NULL, 'ping', $2::jsonb FROM sub ON CONFLICT (subscription, event_id) "
	    "DO UPDATE SET body = EXCLUDED.body, received_at = now(), result = 'ping') "
	    "SELECT count(*) FROM sub",
	/* Retention of raw events (maintenance.purge): the setting webhook_event_retention_days when it is a
	 * number, else $1 days; 0 keeps them forever. */
	[STMT_WEBHOOK_PURGE_EVENTS] =
	    "WITH d AS (SELECT coalesce((SELECT CASE WHEN value ~ '^[0-9]{1,6}$' THEN value::int END FROM settings "
	    "WHERE key = 'webhook_event_retention_days'), $1::int) AS days) "
	    "DELETE FROM webhook_events WHERE (SELECT days FROM d) > 0 "
	    "AND received_at < now() - make_interval(days => (SELECT days FROM d))",
	/* `timebridge webhook dev-create` (tests and benchmarks): a subscription row without Toggl. */
	[STMT_WEBHOOK_DEV_INSERT] =
	    "INSERT INTO webhook_subscriptions (user_id, workspace_id, token_hash, description, url_callback, "
	    "validated_at) VALUES ($1::bigint, $2::bigint, $3, $4, $5, now()) RETURNING id",

	/* toggl: client and sync (src/toggl/connect.c, metadata.c, webhooks.c, import.c, reconcile.c).
	 * Timestamps go out as UTC RFC 3339; bulk writes take one JSON array ($n::jsonb) per page, so a page of
	 * a thousand rows is one round trip. */
#define TG_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	/* $1 user, $2 Toggl user id, $3 email, $4 fullname, $5 time zone, $6 beginning_of_week, $7 default
	 * workspace. Connecting again (a new token) clears a broken status; another Toggl account restarts
	 * the reconciliation from scratch. */
	[STMT_TOGGL_ACCOUNT_UPSERT] =
	    "INSERT INTO toggl_accounts AS a (user_id, toggl_user_id, email, fullname, time_zone, beginning_of_week, "
	    "default_workspace_id) VALUES ($1::bigint, $2::bigint, $3, $4, coalesce($5, 'UTC'), "
	    "coalesce($6::smallint, 1), $7::bigint) ON CONFLICT (user_id) DO UPDATE SET "
	    "last_pull_at = CASE WHEN a.toggl_user_id = EXCLUDED.toggl_user_id THEN a.last_pull_at END, "
	    "toggl_user_id = EXCLUDED.toggl_user_id, email = EXCLUDED.email, fullname = EXCLUDED.fullname, "
	    "time_zone = EXCLUDED.time_zone, beginning_of_week = EXCLUDED.beginning_of_week, "
	    "default_workspace_id = EXCLUDED.default_workspace_id, status = 'ok', status_detail = NULL, "
	    "updated_at = now()",
	[STMT_TOGGL_ACCOUNT_GET] =
	    "SELECT toggl_user_id, email, fullname, time_zone, beginning_of_week, default_workspace_id, status, "
	    "status_detail, quota_remaining, " TG_TS("quota_resets_at") ", " TG_TS("rate_limited_until") ", "
	    "extract(epoch FROM last_pull_at)::bigint, rate_strikes, "
	    "greatest(extract(epoch FROM rate_limited_until - now()), 0)::float8, " TG_TS("last_pull_at")
	    " FROM toggl_accounts WHERE user_id = $1::bigint",
	/* $1 user, $2 status (ok | invalid_token), $3 detail shown to the user. */
	[STMT_TOGGL_ACCOUNT_SET_STATUS] =
	    "UPDATE toggl_accounts SET status = $2, status_detail = $3, updated_at = now() WHERE user_id = $1::bigint",
	/* $1 user, $2 seconds to wait (0: no wait), $3 the 429 streak. */
	[STMT_TOGGL_ACCOUNT_SET_RATE] =
	    "UPDATE toggl_accounts SET rate_limited_until = CASE WHEN $2::float8 > 0 "
	    "THEN now() + make_interval(secs => $2::float8) END, rate_strikes = $3::int WHERE user_id = $1::bigint",
	/* $1 user, $2 unix seconds: where the next reconciliation starts. */
	[STMT_TOGGL_ACCOUNT_SET_PULL] =
	    "UPDATE toggl_accounts SET last_pull_at = to_timestamp($2::float8), updated_at = now() "
	    "WHERE user_id = $1::bigint",
	[STMT_TOGGL_ACCOUNT_LIST] = "SELECT user_id FROM toggl_accounts ORDER BY user_id",
	/* $1 user, $2 bucket, $3 organisation (NULL), $4 remaining, $5 reset time in unix ms. The user-scoped
	 * budget is also what toggl_accounts shows. */
	[STMT_TOGGL_QUOTA_PUT] =
	    "WITH q AS (INSERT INTO toggl_quota (user_id, bucket, organization_id, remaining, resets_at) "
	    "VALUES ($1::bigint, $2, $3::bigint, $4::int, to_timestamp($5::float8 / 1000)) "
	    "ON CONFLICT (user_id, bucket) DO UPDATE SET organization_id = EXCLUDED.organization_id, "
	    "remaining = EXCLUDED.remaining, resets_at = EXCLUDED.resets_at, updated_at = now()) "
	    "UPDATE toggl_accounts SET quota_remaining = $4::int, quota_resets_at = to_timestamp($5::float8 / 1000) "
	    "WHERE user_id = $1::bigint AND $2 = 'user'",
	[STMT_TOGGL_QUOTA_LIST] =
	    "SELECT bucket, coalesce(organization_id, 0), remaining, (extract(epoch FROM resets_at) * 1000)::bigint, "
	    TG_TS("resets_at") " FROM toggl_quota WHERE user_id = $1::bigint ORDER BY bucket",
	/* Metadata from the listings: $1 user (for the rows that record who connected them), $2 a JSON array. */
	[STMT_TOGGL_ORGS_MERGE] =
	    "INSERT INTO toggl_organizations (id, name, plan, user_id) SELECT r.id, coalesce(r.name, ''), r.plan, "
	    "$1::bigint FROM jsonb_to_recordset($2::jsonb) AS r(id bigint, name text, plan text) WHERE r.id IS NOT NULL "
	    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, plan = EXCLUDED.plan, updated_at = now()",
	[STMT_TOGGL_WORKSPACES_MERGE] =
	    "INSERT INTO toggl_workspaces (id, organization_id, name, user_id, premium, at) "
	    "SELECT r.id, r.organization_id, coalesce(r.name, ''), $1::bigint, coalesce(r.premium, false), r.at "
	    "FROM jsonb_to_recordset($2::jsonb) AS r(id bigint, organization_id bigint, name text, premium boolean, "
	    "at timestamptz) WHERE r.id IS NOT NULL ON CONFLICT (id) DO UPDATE SET "
	    "organization_id = EXCLUDED.organization_id, name = EXCLUDED.name, premium = EXCLUDED.premium, "
	    "at = EXCLUDED.at, updated_at = now()",
	[STMT_TOGGL_WORKSPACES_OF_USER] =
	    "SELECT w.id, coalesce(w.organization_id, 0), w.name, w.premium, o.plan FROM toggl_workspaces w "
	    "LEFT JOIN toggl_organizations o ON o.id = w.organization_id WHERE w.user_id = $1::bigint ORDER BY w.id",
	[STMT_TOGGL_WORKSPACE_GET] =
	    "SELECT id, coalesce(organization_id, 0), name, user_id, premium FROM toggl_workspaces WHERE id = $1::bigint",
	[STMT_TOGGL_WORKSPACE_SET_PREMIUM] =
	    "UPDATE toggl_workspaces SET premium = $2::boolean, updated_at = now() WHERE id = $1::bigint",
	/* A listing is the truth at the time it was read: it applies unless our row changed after that (a
	 * webhook event newer than the listing), and it may clear a `deleted` a previous sweep set. Returns
	 * the number of rows changed. */
	[STMT_TOGGL_PROJECTS_MERGE] =
	    "WITH up AS (INSERT INTO toggl_projects AS p (id, workspace_id, client_id, name, color, active, billable, "
	    "rate, currency, at, deleted) SELECT r.id, r.workspace_id, r.client_id, coalesce(r.name, ''), r.color, "
	    "coalesce(r.active, true), coalesce(r.billable, false), r.rate, r.currency, r.at, coalesce(r.deleted, false) "
	    "FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, workspace_id bigint, client_id bigint, name text, "
	    "color text, active boolean, billable boolean, rate numeric, currency text, at timestamptz, deleted boolean) "
	    "WHERE r.id IS NOT NULL AND r.workspace_id IS NOT NULL ON CONFLICT (id) DO UPDATE SET "
	    "workspace_id = EXCLUDED.workspace_id, client_id = EXCLUDED.client_id, name = EXCLUDED.name, "
	    "color = EXCLUDED.color, active = EXCLUDED.active, billable = EXCLUDED.billable, rate = EXCLUDED.rate, "
	    "currency = EXCLUDED.currency, at = EXCLUDED.at, deleted = EXCLUDED.deleted "
	    "WHERE (p.at IS NULL OR EXCLUDED.at IS NULL OR EXCLUDED.at >= p.at) AND (p.workspace_id, p.client_id, "
	    "p.name, p.color, p.active, p.billable, p.rate, p.currency, p.at, p.deleted) IS DISTINCT FROM "
	    "(EXCLUDED.workspace_id, EXCLUDED.client_id, EXCLUDED.name, EXCLUDED.color, EXCLUDED.active, "
	    "EXCLUDED.billable, EXCLUDED.rate, EXCLUDED.currency, EXCLUDED.at, EXCLUDED.deleted) RETURNING 1) "
	    "SELECT count(*) FROM up",
	/* After a complete listing of workspace $1: what it did not contain ($2 the ids it did) is deleted,
	 * unless it changed after the listing began ($3 unix s). */
	[STMT_TOGGL_PROJECTS_SWEEP] =
	    "WITH d AS (UPDATE toggl_projects SET deleted = true WHERE workspace_id = $1::bigint AND NOT deleted "
	    "AND NOT (id = ANY($2::bigint[])) AND (at IS NULL OR at < to_timestamp($3::float8)) RETURNING 1) "
	    "SELECT count(*) FROM d",
	[STMT_TOGGL_CLIENTS_MERGE] =
	    "WITH up AS (INSERT INTO toggl_clients AS c (id, workspace_id, name, archived, at, deleted) "
	    "SELECT r.id, r.workspace_id, coalesce(r.name, ''), coalesce(r.archived, false), r.at, "
	    "coalesce(r.deleted, false) FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, workspace_id bigint, "
	    "name text, archived boolean, at timestamptz, deleted boolean) "
	    "WHERE r.id IS NOT NULL AND r.workspace_id IS NOT NULL ON CONFLICT (id) DO UPDATE SET "
	    "workspace_id = EXCLUDED.workspace_id, name = EXCLUDED.name, archived = EXCLUDED.archived, "
	    "at = EXCLUDED.at, deleted = EXCLUDED.deleted "
	    "WHERE (c.at IS NULL OR EXCLUDED.at IS NULL OR EXCLUDED.at >= c.at) AND (c.workspace_id, c.name, "
	    "c.archived, c.at, c.deleted) IS DISTINCT FROM (EXCLUDED.workspace_id, EXCLUDED.name, EXCLUDED.archived, "
	    "EXCLUDED.at, EXCLUDED.deleted) RETURNING 1) SELECT count(*) FROM up",
	[STMT_TOGGL_CLIENTS_SWEEP] =
	    "WITH d AS (UPDATE toggl_clients SET deleted = true WHERE workspace_id = $1::bigint AND NOT deleted "
	    "AND NOT (id = ANY($2::bigint[])) AND (at IS NULL OR at < to_timestamp($3::float8)) RETURNING 1) "
	    "SELECT count(*) FROM d",
	[STMT_TOGGL_TAGS_MERGE] =
	    "WITH up AS (INSERT INTO toggl_tags AS g (id, workspace_id, name, at, deleted) "
	    "SELECT r.id, r.workspace_id, coalesce(r.name, ''), r.at, coalesce(r.deleted, false) "
	    "FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, workspace_id bigint, name text, at timestamptz, "
	    "deleted boolean) WHERE r.id IS NOT NULL AND r.workspace_id IS NOT NULL ON CONFLICT (id) DO UPDATE SET "
	    "workspace_id = EXCLUDED.workspace_id, name = EXCLUDED.name, at = EXCLUDED.at, deleted = EXCLUDED.deleted "
	    "WHERE (g.at IS NULL OR EXCLUDED.at IS NULL OR EXCLUDED.at >= g.at) AND (g.workspace_id, g.name, g.at, "
	    "g.deleted) IS DISTINCT FROM (EXCLUDED.workspace_id, EXCLUDED.name, EXCLUDED.at, EXCLUDED.deleted) "
	    "RETURNING 1) SELECT count(*) FROM up",
	[STMT_TOGGL_TAGS_SWEEP] =
	    "WITH d AS (UPDATE toggl_tags SET deleted = true WHERE workspace_id = $1::bigint AND NOT deleted "
	    "AND NOT (id = ANY($2::bigint[])) AND (at IS NULL OR at < to_timestamp($3::float8)) RETURNING 1) "
	    "SELECT count(*) FROM d",
	/* How many projects, tags and clients that user $1's entries changed since $2 (unix s) name are
	 * unknown to us: when non-zero, a metadata refresh is due. */
	[STMT_TOGGL_META_UNKNOWN] =
	    "WITH e AS (SELECT project_id, tag_ids FROM time_entries WHERE user_id = $1::bigint "
	    "AND updated_at >= to_timestamp($2::float8)) "
	    "SELECT (SELECT count(DISTINCT e.project_id) FROM e WHERE e.project_id IS NOT NULL AND NOT EXISTS "
	    "(SELECT 1 FROM toggl_projects p WHERE p.id = e.project_id)) "
	    "+ (SELECT count(DISTINCT t.id) FROM e, unnest(e.tag_ids) AS t(id) WHERE NOT EXISTS "
	    "(SELECT 1 FROM toggl_tags g WHERE g.id = t.id)) "
	    "+ (SELECT count(DISTINCT p.client_id) FROM toggl_projects p JOIN toggl_workspaces w "
	    "ON w.id = p.workspace_id WHERE w.user_id = $1::bigint AND p.client_id IS NOT NULL AND NOT EXISTS "
	    "(SELECT 1 FROM toggl_clients c WHERE c.id = p.client_id))",
	/* A page of entries from the API (import, reconciliation) with the receiver's rules: a live entry
	 * applies when its `at` is not older than ours and something differs (a running entry's negative
	 * duration compares equal whatever its value: webhooks send -start, the API -1), never on a
	 * tombstone; a deleted one tombstones any live row whatever its `at`, and an entry never seen is
	 * stored as a tombstone. Each real change bumps version. Tags without names (the Reports API sends
	 * ids only) take them from toggl_tags. $1 user, $2 the JSON array, $3 the import run that saw them
	 * (NULL: none). Returns inserted, updated, deleted, rows given. */
#define TG_NEWER(c) "CASE WHEN EXCLUDED.at >= t.at THEN EXCLUDED." c " ELSE t." c " END"
#define TG_DUR(p) "CASE WHEN " p "duration < 0 THEN -1 ELSE " p "duration END"
	[STMT_TOGGL_ENTRIES_MERGE] =
	    "WITH r AS (SELECT DISTINCT ON (r.id) r.* FROM jsonb_to_recordset($2::jsonb) AS r(id bigint, "
	    "toggl_user_id bigint, workspace_id bigint, project_id bigint, task_id bigint, description text, "
	    "billable boolean, start timestamptz, stop timestamptz, duration bigint, tags text[], tag_ids bigint[], "
	    "at timestamptz, server_deleted_at timestamptz) WHERE r.id IS NOT NULL ORDER BY r.id, r.at DESC), "
	    "x AS (SELECT r.id, r.toggl_user_id, r.workspace_id, r.project_id, r.task_id, r.description, "
	    "coalesce(r.billable, false) AS billable, r.start, r.stop, r.duration, coalesce(r.tags, ARRAY("
	    "SELECT g.name FROM unnest(r.tag_ids) WITH ORDINALITY AS u(tid, n) JOIN toggl_tags g ON g.id = u.tid "
	    "ORDER BY u.n)) AS tags, coalesce(r.tag_ids, '{}') AS tag_ids, r.at, r.server_deleted_at FROM r), "
	    "seen AS (INSERT INTO toggl_import_seen (run_id, entry_id) SELECT $3::bigint, x.id FROM x "
	    "WHERE $3::bigint IS NOT NULL ON CONFLICT DO NOTHING), "
	    "up AS (INSERT INTO time_entries AS t (id, user_id, toggl_user_id, workspace_id, project_id, task_id, "
	    "description, billable, start, stop, duration, tags, tag_ids, at, server_deleted_at) "
	    "SELECT x.id, $1::bigint, x.toggl_user_id, x.workspace_id, x.project_id, x.task_id, x.description, "
	    "x.billable, x.start, x.stop, x.duration, x.tags, x.tag_ids, x.at, x.server_deleted_at FROM x "
	    "ON CONFLICT (id) DO UPDATE SET toggl_user_id = " TG_NEWER("toggl_user_id") ", "
	    "workspace_id = " TG_NEWER("workspace_id") ", project_id = " TG_NEWER("project_id") ", "
	    "task_id = " TG_NEWER("task_id") ", description = " TG_NEWER("description") ", "
	    "billable = " TG_NEWER("billable") ", start = " TG_NEWER("start") ", stop = " TG_NEWER("stop") ", "
	    "duration = " TG_NEWER("duration") ", tags = " TG_NEWER("tags") ", tag_ids = " TG_NEWER("tag_ids") ", "
	    "server_deleted_at = coalesce(t.server_deleted_at, EXCLUDED.server_deleted_at), "
	    "at = greatest(t.at, EXCLUDED.at), version = t.version + 1, updated_at = now() "
	    "WHERE t.server_deleted_at IS NULL AND (EXCLUDED.server_deleted_at IS NOT NULL OR (EXCLUDED.at >= t.at "
	    "AND (t.toggl_user_id, t.workspace_id, t.project_id, t.task_id, t.description, t.billable, t.start, "
	    "t.stop, " TG_DUR("t.") ", t.tags, t.tag_ids) IS DISTINCT FROM (EXCLUDED.toggl_user_id, "
	    "EXCLUDED.workspace_id, EXCLUDED.project_id, EXCLUDED.task_id, EXCLUDED.description, EXCLUDED.billable, "
	    "EXCLUDED.start, EXCLUDED.stop, " TG_DUR("EXCLUDED.") ", EXCLUDED.tags, EXCLUDED.tag_ids))) "
	    "RETURNING (t.xmax = 0) AS ins, (t.server_deleted_at IS NOT NULL) AS dead) "
	    "SELECT count(*) FILTER (WHERE ins AND NOT dead), count(*) FILTER (WHERE NOT ins AND NOT dead), "
	    "count(*) FILTER (WHERE dead), (SELECT count(*) FROM x) FROM up",
#undef TG_NEWER
#undef TG_DUR
	/* An entry Toggl says is gone (404 on its own URL): $1 entry, $2 user. Returns rows changed. */
	[STMT_TOGGL_ENTRY_TOMBSTONE] =
	    "WITH d AS (UPDATE time_entries SET server_deleted_at = now(), version = version + 1, updated_at = now() "
	    "WHERE id = $1::bigint AND user_id = $2::bigint AND server_deleted_at IS NULL RETURNING 1) "
	    "SELECT count(*) FROM d",
	/* Our live subscription row of user $1 in workspace $2. */
	[STMT_TOGGL_HOOK_LIVE] =
	    "SELECT id, subscription_id, token_hash, description, url_callback, event_filters::text, enabled, "
	    TG_TS("validated_at") ", has_pending, " TG_TS("last_event_at")
	    " FROM webhook_subscriptions WHERE user_id = $1::bigint AND workspace_id = $2::bigint AND revoked_at IS NULL",
	/* $1 user, $2 workspace, $3 token hash, $4 description, $5 callback (token redacted), $6 filters. */
	[STMT_TOGGL_HOOK_INSERT] =
	    "INSERT INTO webhook_subscriptions (user_id, workspace_id, token_hash, description, url_callback, "
	    "event_filters, enabled) VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6::jsonb, true) RETURNING id",
	/* What Toggl says of our subscription: $1 row, $2 Toggl's id, $3 enabled, $4 validated_at (NULL: not
	 * validated), $5 has_pending_events, $6 filters, $7 callback (token redacted). */
	[STMT_TOGGL_HOOK_SET_UPSTREAM] =
	    "UPDATE webhook_subscriptions SET subscription_id = $2::bigint, enabled = $3::boolean, "
	    "validated_at = $4::timestamptz, has_pending = $5::boolean, event_filters = $6::jsonb, "
	    "url_callback = $7, updated_at = now() WHERE id = $1::bigint AND revoked_at IS NULL",
	[STMT_TOGGL_HOOK_REVOKE] =
	    "UPDATE webhook_subscriptions SET revoked_at = now(), enabled = false, updated_at = now() "
	    "WHERE id = $1::bigint AND revoked_at IS NULL",
	/* Live subscriptions, of user $1 (NULL: all) in workspace $2 (NULL: all). */
	[STMT_TOGGL_HOOK_LIST] =
	    "SELECT s.id, s.user_id, u.email, s.workspace_id, coalesce(w.name, ''), s.subscription_id, s.enabled, "
	    TG_TS("s.validated_at") ", s.has_pending, " TG_TS("s.last_event_at") ", s.description, s.url_callback, "
	    "s.event_filters::text, " TG_TS("s.created_at") " FROM webhook_subscriptions s JOIN users u ON u.id = s.user_id "
	    "LEFT JOIN toggl_workspaces w ON w.id = s.workspace_id WHERE s.revoked_at IS NULL "
	    "AND ($1::bigint IS NULL OR s.user_id = $1::bigint) AND ($2::bigint IS NULL OR s.workspace_id = $2::bigint) "
	    "ORDER BY s.workspace_id, s.user_id",
	/* One importer per user at a time: a session lock ("tgim"), released with the connection if the
	 * importer dies. */
	[STMT_TOGGL_IMPORT_LOCK] = "SELECT pg_try_advisory_lock(1952999789, ($1::bigint % 2147483647)::int)",
	[STMT_TOGGL_IMPORT_UNLOCK] = "SELECT pg_advisory_unlock(1952999789, ($1::bigint % 2147483647)::int)",
#define TG_RUN_COLS \
	    "id, method, cursor::text, fetched, inserted, updated, unchanged, deleted, requests, windows, splits, " \
	    "quota_waits, resumes, extract(epoch FROM started_at)::float8"
	[STMT_TOGGL_IMPORT_OPEN] =
	    "SELECT " TG_RUN_COLS " FROM toggl_import_runs WHERE user_id = $1::bigint AND since = $2::date "
	    "AND until = $3::date AND state = 'running'",
	[STMT_TOGGL_IMPORT_START] =
	    "INSERT INTO toggl_import_runs (user_id, since, until, job_id) VALUES ($1::bigint, $2::date, $3::date, "
	    "$4::bigint) RETURNING " TG_RUN_COLS,
#undef TG_RUN_COLS
	/* $1 run, $2 method, $3 cursor, $4..$13 the counters, $14 job (NULL: the CLI). */
	[STMT_TOGGL_IMPORT_SAVE] =
	    "UPDATE toggl_import_runs SET method = $2, cursor = $3::jsonb, fetched = $4::bigint, inserted = $5::bigint, "
	    "updated = $6::bigint, unchanged = $7::bigint, deleted = $8::bigint, requests = $9::int, windows = $10::int, "
	    "splits = $11::int, quota_waits = $12::int, resumes = $13::int, job_id = $14::bigint, updated_at = now() "
	    "WHERE id = $1::bigint",
	/* $1 run, $2 state (running: stays resumable), $3 the error (NULL). */
	[STMT_TOGGL_IMPORT_FINISH] =
	    "UPDATE toggl_import_runs SET state = $2, last_error = $3, updated_at = now(), "
	    "finished_at = CASE WHEN $2 = 'running' THEN NULL ELSE now() END WHERE id = $1::bigint",
	[STMT_TOGGL_IMPORT_LAST] =
	    "SELECT id, since::text, until::text, state, method, fetched, inserted, updated, unchanged, deleted, "
	    "requests, windows, splits, quota_waits, resumes, last_error, " TG_TS("started_at") ", "
	    TG_TS("updated_at") ", " TG_TS("finished_at") ", job_id FROM toggl_import_runs "
	    "WHERE user_id = $1::bigint ORDER BY id DESC LIMIT 1",
	/* Live entries of the run's range the run did not see: $1 run, $2 user, $3 Toggl user, $4/$5 the range
	 * (unix s), $6 how many, $7 workspaces (NULL: all), $8 running entries too. Changed after the run
	 * began: not a candidate (the change is newer than what we read). */
	[STMT_TOGGL_IMPORT_UNSEEN] =
	    "SELECT t.id FROM time_entries t WHERE t.user_id = $2::bigint AND t.toggl_user_id = $3::bigint "
	    "AND t.server_deleted_at IS NULL AND t.start >= to_timestamp($4::float8) AND t.start < to_timestamp($5::float8) "
	    "AND t.at < (SELECT started_at FROM toggl_import_runs WHERE id = $1::bigint) "
	    "AND ($8::boolean OR t.stop IS NOT NULL) AND ($7::bigint[] IS NULL OR t.workspace_id = ANY($7::bigint[])) "
	    "AND NOT EXISTS (SELECT 1 FROM toggl_import_seen s WHERE s.run_id = $1::bigint AND s.entry_id = t.id) "
	    "ORDER BY t.start LIMIT $6::int",
	[STMT_TOGGL_IMPORT_SEEN_CLEAR] = "DELETE FROM toggl_import_seen WHERE run_id = $1::bigint",
	/* The seen table fills in minutes, faster than autovacuum analyzes it: without fresh statistics the
	 * planner takes it for empty and checks every entry against every seen row. */
	[STMT_TOGGL_IMPORT_SEEN_ANALYZE] = "ANALYZE toggl_import_seen",
#undef TG_TS

	/* google (issue 4) */
	/* One entry and what its event shows (columns 0..24, enum gcal_col in gcal/mirror.c): the colour rules
	 * that match it (the first tag in the entry's tag order), and its mirror row. */
#define GOOGLE_ENTRY_COLS \
	"te.id, te.version, te.server_deleted_at IS NOT NULL, te.workspace_id, coalesce(te.project_id, 0), " \
	"coalesce(p.client_id, 0), te.toggl_user_id, te.description, te.billable, " \
	"(extract(epoch FROM te.start) * 1000)::bigint, (extract(epoch FROM te.stop) * 1000)::bigint, " \
	"te.stop IS NULL, array_to_string(te.tags, ', '), p.name, p.color, cl.name, " \
	"(SELECT r.color_id FROM unnest(te.tag_ids) WITH ORDINALITY t(id, n) JOIN google_color_rules r " \
	"ON r.user_id = te.user_id AND r.kind = 'tag' AND r.ref_id = t.id ORDER BY t.n LIMIT 1), " \
	"(SELECT r.color_id FROM google_color_rules r WHERE r.user_id = te.user_id AND r.kind = 'project' " \
	"AND r.ref_id = te.project_id), " \
	"(SELECT r.color_id FROM google_color_rules r WHERE r.user_id = te.user_id AND r.kind = 'client' " \
	"AND r.ref_id = p.client_id), " \
	"(SELECT r.color_id FROM google_color_rules r WHERE r.user_id = te.user_id AND r.kind = 'workspace' " \
	"AND r.ref_id = te.workspace_id), " \
	"m.event_id, m.event_state, m.synced_version, m.state, m.calendar_id"
#define GOOGLE_ENTRY_FROM \
	"time_entries te LEFT JOIN toggl_projects p ON p.id = te.project_id " \
	"LEFT JOIN toggl_clients cl ON cl.id = p.client_id LEFT JOIN google_mirror m ON m.entry_id = te.id"
	/* OAuth states: single use (taken by DELETE ... RETURNING), with their freshness judged by the database
	 * clock, so a state expires after LIMIT_GOOGLE_STATE_S whatever the web host's clock says. */
	[STMT_GOOGLE_STATE_INSERT] =
	    "INSERT INTO google_oauth_states (state_hash, session_hash, user_id, verifier_sealed) "
	    "VALUES ($1, $2, $3::bigint, $4)",
	[STMT_GOOGLE_STATE_PURGE] =
	    "DELETE FROM google_oauth_states WHERE created_at < now() - make_interval(secs => $1::int)",
	[STMT_GOOGLE_STATE_TAKE] =
	    "DELETE FROM google_oauth_states WHERE state_hash = $1 "
	    "RETURNING session_hash, user_id, verifier_sealed, created_at >= now() - make_interval(secs => $2::int)",
	/* A (re)connection keeps the calendar and the settings, and ends any backoff. */
	[STMT_GOOGLE_ACCOUNT_CONNECT] =
	    "INSERT INTO google_accounts (user_id, status, status_detail, scopes, access_sealed, access_expires_at) "
	    "VALUES ($1::bigint, $5, $6, $2, $3, now() + make_interval(secs => $4::int)) "
	    "ON CONFLICT (user_id) DO UPDATE SET status = EXCLUDED.status, status_detail = EXCLUDED.status_detail, "
	    "scopes = EXCLUDED.scopes, access_sealed = EXCLUDED.access_sealed, "
	    "access_expires_at = EXCLUDED.access_expires_at, connected_at = now(), backoff_until = NULL, "
	    "backoff_level = 0, updated_at = now() RETURNING calendar_id",
	[STMT_GOOGLE_ACCOUNT_DISCONNECT] =
	    "UPDATE google_accounts SET status = 'disconnecting', updated_at = now() WHERE user_id = $1::bigint "
	    "RETURNING user_id",
	/* For pages and the CLI. */
	[STMT_GOOGLE_ACCOUNT_GET] =
	    "SELECT status, status_detail, scopes, calendar_id, calendar_name, calendar_time_zone, backfill_days, "
	    "running_refresh_min, backoff_until, backoff_level, validated_at, validation::text, connected_at, "
	    "access_expires_at, updated_at FROM google_accounts WHERE user_id = $1::bigint",
	/* For the jobs: the time zone is the user's Toggl one (calendars are created in it). */
	[STMT_GOOGLE_ACCOUNT_LOAD] =
	    "SELECT g.status, g.calendar_id, g.calendar_name, coalesce(ta.time_zone, u.time_zone, 'UTC'), "
	    "g.access_sealed, extract(epoch FROM g.access_expires_at - now())::bigint, "
	    "extract(epoch FROM g.backoff_until - now())::float8, g.backoff_level, g.backfill_days, "
	    "g.running_refresh_min, g.scopes FROM google_accounts g JOIN users u ON u.id = g.user_id "
	    "LEFT JOIN toggl_accounts ta ON ta.user_id = g.user_id WHERE g.user_id = $1::bigint",
	/* NULL leaves a setting as it is. */
	[STMT_GOOGLE_SETTINGS_PUT] =
	    "UPDATE google_accounts SET calendar_name = coalesce($2, calendar_name), "
	    "backfill_days = coalesce($3::int, backfill_days), "
	    "running_refresh_min = coalesce($4::int, running_refresh_min), updated_at = now() "
	    "WHERE user_id = $1::bigint RETURNING calendar_name",
	/* The sync read: the entry with everything its event shows, its mirror row, the connection, and the
	 * per-entry lock, session-level so it spans the Google call without a transaction; STMT_GOOGLE_SYNC_DONE
	 * (or STMT_GOOGLE_SYNC_UNLOCK) releases it, and a dead worker's connection takes it along. The lock's
	 * first key is "tbgc"; the second is the entry id hashed. Column order: enum gcal_col, gcal/internal.h. */
	[STMT_GOOGLE_SYNC_LOAD] =
	    "SELECT " GOOGLE_ENTRY_COLS ", g.status, g.calendar_id, g.access_sealed, "
	    "extract(epoch FROM g.access_expires_at - now())::bigint, "
	    "extract(epoch FROM g.backoff_until - now())::float8, g.backoff_level, "
	    "pg_try_advisory_lock(1952671587, hashint8($1::bigint)) "
	    "FROM google_accounts g LEFT JOIN (" GOOGLE_ENTRY_FROM ") ON te.id = $1::bigint AND te.user_id = g.user_id "
	    "WHERE g.user_id = $2::bigint",
	/* Validation: the entries changed in the last $2 days that should be (or were) in the calendar, except
	 * the ones with a sync on its way and the ones a permanent error stopped (they wait for a person). */
	[STMT_GOOGLE_VALIDATE_ROWS] =
	    "SELECT " GOOGLE_ENTRY_COLS " FROM google_accounts g JOIN (" GOOGLE_ENTRY_FROM ") ON te.user_id = g.user_id "
	    "WHERE g.user_id = $1::bigint AND te.updated_at >= now() - make_interval(days => $2::int) "
	    "AND (m.entry_id IS NOT NULL OR (te.server_deleted_at IS NULL "
	    "AND coalesce(te.stop, now()) >= now() - make_interval(days => g.backfill_days))) "
	    "AND coalesce(m.state, 'none') NOT IN ('pending', 'paused', 'retrying', 'error') "
	    "ORDER BY te.updated_at DESC LIMIT $3::int",
	/* The sync's one commit: the job's done mark (only while we hold its lease), what Google now has on the
	 * entry, a refreshed access token ($10, NULL: none), the end of a backoff ($12), for a running entry
	 * ($13) its next refresh (running_refresh_min from now, folded into any sync already queued), then the
	 * lock goes.
	 * The mirror row is guarded by the version read ($6): if the entry changed since, it stays pending, for
	 * the newer job that change queued. Returns (done marks, the row's state, unlocked). */
	[STMT_GOOGLE_SYNC_DONE] =
	    "WITH j AS (UPDATE jobs SET state = 'done', finished_at = now(), updated_at = now(), lease_owner = NULL, "
	    "lease_expires_at = NULL, last_error = NULL WHERE id = $8::bigint AND lease_owner = $9 "
	    "AND state = 'running' RETURNING id), "
	    "m AS (INSERT INTO google_mirror AS m (entry_id, user_id, event_id, calendar_id, event_state, state, "
	    "queued_version, synced_version, synced_at) "
	    "SELECT te.id, $2::bigint, $3, $4, $5, CASE WHEN te.version = $6::bigint THEN $7 ELSE 'pending' END, "
	    "$6::bigint, $6::bigint, now() FROM time_entries te, j WHERE te.id = $1::bigint "
	    "ON CONFLICT (entry_id) DO UPDATE SET event_id = EXCLUDED.event_id, calendar_id = EXCLUDED.calendar_id, "
	    "event_state = EXCLUDED.event_state, state = EXCLUDED.state, synced_version = EXCLUDED.synced_version, "
	    "synced_at = now(), last_error = NULL, last_error_at = NULL, updated_at = now() RETURNING m.state), "
	    "t AS (UPDATE google_accounts SET access_sealed = coalesce($10, access_sealed), "
	    "access_expires_at = CASE WHEN $10::text IS NULL THEN access_expires_at "
	    "ELSE now() + make_interval(secs => $11::int) END, "
	    "backoff_level = CASE WHEN $12::boolean THEN 0 ELSE backoff_level END, "
	    "backoff_until = CASE WHEN $12::boolean THEN NULL ELSE backoff_until END, updated_at = now() "
	    "WHERE user_id = $2::bigint AND ($10::text IS NOT NULL OR $12::boolean) AND EXISTS (SELECT 1 FROM j)), "
	    "r AS (INSERT INTO jobs (kind, payload, user_id, dedupe_key, run_after) "
	    "SELECT 'google.sync_entry', jsonb_build_object('entry_id', $1::bigint, 'version', $6::bigint, "
	    "'refresh', true), $2::bigint, ($1::bigint)::text, now() + make_interval(mins => g.running_refresh_min) "
	    "FROM google_accounts g WHERE g.user_id = $2::bigint AND $13::boolean AND EXISTS (SELECT 1 FROM j) "
	    "ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused') "
	    "DO UPDATE SET run_after = least(jobs.run_after, EXCLUDED.run_after), updated_at = now()) "
	    "SELECT (SELECT count(*) FROM j), (SELECT state FROM m), pg_advisory_unlock(1952671587, hashint8($1::bigint))",
	[STMT_GOOGLE_SYNC_UNLOCK] = "SELECT pg_advisory_unlock(1952671587, hashint8($1::bigint))",
	[STMT_GOOGLE_MIRROR_FAIL] =
	    "INSERT INTO google_mirror (entry_id, user_id, state, last_error, last_error_at) "
	    "SELECT te.id, $2::bigint, $3, $4, now() FROM time_entries te WHERE te.id = $1::bigint "
	    "ON CONFLICT (entry_id) DO UPDATE SET state = EXCLUDED.state, last_error = EXCLUDED.last_error, "
	    "last_error_at = now(), updated_at = now()",
	/* A new calendar holds nothing: every live entry is to be mirrored again. */
	[STMT_GOOGLE_MIRROR_RESET] =
	    "UPDATE google_mirror SET event_state = 'none', calendar_id = NULL, synced_version = 0, "
	    "state = CASE WHEN state = 'deleted' THEN 'deleted' ELSE 'pending' END, updated_at = now() "
	    "WHERE user_id = $1::bigint",
	[STMT_GOOGLE_MIRROR_GET] =
	    "SELECT m.entry_id, m.user_id, m.event_id, m.calendar_id, m.event_state, m.state, m.queued_version, "
	    "m.synced_version, m.last_error, m.last_error_at, m.synced_at, te.version "
	    "FROM google_mirror m LEFT JOIN time_entries te ON te.id = m.entry_id WHERE m.entry_id = $1::bigint",
	[STMT_GOOGLE_MIRROR_COUNTS] =
	    "SELECT state, count(*) FROM google_mirror WHERE user_id = $1::bigint GROUP BY state ORDER BY state",
	[STMT_GOOGLE_TOKEN_STORE] =
	    "UPDATE google_accounts SET access_sealed = $2, access_expires_at = now() + make_interval(secs => $3::int), "
	    "updated_at = now() WHERE user_id = $1::bigint",
	[STMT_GOOGLE_NEEDS_RECONNECT] =
	    "UPDATE google_accounts SET status = 'needs_reconnect', status_detail = $2, access_sealed = NULL, "
	    "access_expires_at = NULL, updated_at = now() WHERE user_id = $1::bigint AND status = 'ok'",
	/* The user's google jobs wait for the reconnect (STMT_JOB_RESUME_USER wakes them), and their entries
	 * say so. */
	[STMT_GOOGLE_PAUSE_JOBS] =
	    "WITH m AS (UPDATE google_mirror SET state = 'paused', last_error = $2, last_error_at = now(), "
	    "updated_at = now() WHERE user_id = $1::bigint AND state IN ('pending', 'retrying') RETURNING 1), "
	    "j AS (UPDATE jobs SET state = 'paused', last_error = $2, updated_at = now() "
	    "WHERE user_id = $1::bigint AND kind LIKE 'google.%' AND kind <> 'google.revoke' "
	    "AND state IN ('queued', 'failed') RETURNING 1) SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM m)",
	/* Per-user backoff: the wait only grows while errors keep coming; $3 caps the level. */
	[STMT_GOOGLE_BACKOFF_SET] =
	    "UPDATE google_accounts SET backoff_level = least(backoff_level + 1, $3::int), "
	    "backoff_until = greatest(coalesce(backoff_until, now()), now() + make_interval(secs => $2::float8)), "
	    "updated_at = now() WHERE user_id = $1::bigint "
	    "RETURNING extract(epoch FROM backoff_until - now())::float8",
	[STMT_GOOGLE_BACKOFF_RESET] =
	    "UPDATE google_accounts SET backoff_level = 0, backoff_until = NULL WHERE user_id = $1::bigint "
	    "AND (backoff_level > 0 OR backoff_until IS NOT NULL)",
	/* Every due google job of the user waits past the backoff, spread over $3 seconds of jitter. */
	[STMT_GOOGLE_JOBS_DEFER] =
	    "UPDATE jobs SET run_after = greatest(run_after, now() + make_interval(secs => $2::float8 + "
	    "random() * $3::float8)), updated_at = now() WHERE user_id = $1::bigint AND kind LIKE 'google.%' "
	    "AND state IN ('queued', 'failed')",
	/* An attempt that never reached Google (backoff, lock) is given back. */
	[STMT_GOOGLE_JOB_UNCOUNT] =
	    "UPDATE jobs SET attempts = greatest(attempts - 1, 0) WHERE id = $1::bigint AND lease_owner = $2 "
	    "AND state = 'running'",
	[STMT_GOOGLE_CALENDAR_SET] =
	    "UPDATE google_accounts SET calendar_id = $2, calendar_time_zone = $3, calendar_created_at = now(), "
	    "updated_at = now() WHERE user_id = $1::bigint",
	/* Backfill: the live entries of the window get a pending mirror row (all of them with $3 = force,
	 * else those not in sync)... */
	[STMT_GOOGLE_BACKFILL_MIRROR] =
	    "INSERT INTO google_mirror AS m (entry_id, user_id, state, queued_version) "
	    "SELECT te.id, te.user_id, 'pending', te.version FROM time_entries te WHERE te.user_id = $1::bigint "
	    "AND te.server_deleted_at IS NULL AND coalesce(te.stop, now()) >= now() - make_interval(days => $2::int) "
	    "ON CONFLICT (entry_id) DO UPDATE SET state = 'pending', queued_version = EXCLUDED.queued_version, "
	    "updated_at = now() WHERE $3::boolean OR m.state <> 'synced' OR m.synced_version <> EXCLUDED.queued_version",
	/* ...then every row not in sync is queued, newest first, $2 per second. */
	[STMT_GOOGLE_BACKFILL_ENQUEUE] =
	    "WITH todo AS (SELECT m.entry_id, te.version, row_number() OVER (ORDER BY te.start DESC) - 1 AS n "
	    "FROM google_mirror m JOIN time_entries te ON te.id = m.entry_id WHERE m.user_id = $1::bigint "
	    "AND m.state IN ('pending', 'retrying', 'error', 'paused')) "
	    "INSERT INTO jobs (kind, payload, user_id, dedupe_key, run_after) "
	    "SELECT 'google.sync_entry', jsonb_build_object('entry_id', entry_id, 'version', version, "
	    "'force', $3::boolean), $1::bigint, entry_id::text, now() + make_interval(secs => n / $2::float8) FROM todo "
	    "ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused') "
	    "DO UPDATE SET payload = EXCLUDED.payload, run_after = least(jobs.run_after, EXCLUDED.run_after), "
	    "updated_at = now() RETURNING id",
	/* The catch-up: users whose last validation is more than an interval (and a minute of slack) old, i.e.
	 * whose chain of validations broke. validated_at is set at queueing, so a user is queued once. */
	[STMT_GOOGLE_VALIDATE_FANOUT] =
	    "WITH due AS (UPDATE google_accounts SET validated_at = now() WHERE status = 'ok' "
	    "AND calendar_id IS NOT NULL AND (validated_at IS NULL "
	    "OR validated_at <= now() - make_interval(secs => $1::int * 60 + 60)) RETURNING user_id) "
	    "INSERT INTO jobs (kind, payload, user_id, dedupe_key) "
	    "SELECT 'google.validate', '{}'::jsonb, user_id, user_id::text FROM due "
	    "ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused') "
	    "DO UPDATE SET run_after = least(jobs.run_after, EXCLUDED.run_after), updated_at = now() RETURNING id",
	[STMT_GOOGLE_VALIDATE_STORE] =
	    "UPDATE google_accounts SET validation = $2::jsonb, validated_at = now() WHERE user_id = $1::bigint",
	/* The catch-up of running entries: those whose event was last extended more than a refresh interval
	 * (and a minute of slack) ago, i.e. whose chain of refreshes broke. */
	[STMT_GOOGLE_REFRESH_RUNNING] =
	    "INSERT INTO jobs (kind, payload, user_id, dedupe_key) "
	    "SELECT 'google.sync_entry', jsonb_build_object('entry_id', te.id, 'version', te.version, "
	    "'refresh', true), te.user_id, te.id::text FROM time_entries te "
	    "JOIN google_accounts g ON g.user_id = te.user_id AND g.status = 'ok' "
	    "JOIN google_mirror m ON m.entry_id = te.id WHERE te.stop IS NULL AND te.server_deleted_at IS NULL "
	    "AND m.state = 'synced' AND (m.synced_at IS NULL "
	    "OR m.synced_at <= now() - make_interval(secs => g.running_refresh_min * 60 + 60)) "
	    "ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused') "
	    "DO UPDATE SET run_after = least(jobs.run_after, EXCLUDED.run_after), updated_at = now() RETURNING id",
	/* A forced sync of one entry: validation found a difference, or someone asked. */
	[STMT_GOOGLE_RESYNC] =
	    "WITH te AS (SELECT id, version FROM time_entries WHERE id = $2::bigint AND user_id = $1::bigint), "
	    "mm AS (INSERT INTO google_mirror (entry_id, user_id, state, queued_version, last_error, last_error_at) "
	    "SELECT te.id, $1::bigint, 'pending', te.version, $3::text, "
	    "CASE WHEN $3::text IS NULL THEN NULL ELSE now() END FROM te "
	    "ON CONFLICT (entry_id) DO UPDATE SET state = 'pending', last_error = EXCLUDED.last_error, "
	    "last_error_at = EXCLUDED.last_error_at, updated_at = now()) "
	    "INSERT INTO jobs (kind, payload, user_id, dedupe_key) "
	    "SELECT 'google.sync_entry', jsonb_build_object('entry_id', te.id, 'version', te.version, 'force', true), "
	    "$1::bigint, te.id::text FROM te "
	    "ON CONFLICT (kind, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'failed', 'paused') "
	    "DO UPDATE SET payload = EXCLUDED.payload, run_after = least(jobs.run_after, EXCLUDED.run_after), "
	    "updated_at = now() RETURNING id",
	/* After the revoke: everything stored about the connection goes, unless the user reconnected
	 * meanwhile. Colour rules are preferences and stay. */
	[STMT_GOOGLE_FORGET] =
	    "WITH g AS (SELECT user_id FROM google_accounts WHERE user_id = $1::bigint AND status = 'disconnecting' "
	    "FOR UPDATE), "
	    "a AS (DELETE FROM google_mirror WHERE user_id IN (SELECT user_id FROM g)), "
	    "b AS (DELETE FROM google_oauth_states WHERE user_id IN (SELECT user_id FROM g)), "
	    "c AS (DELETE FROM secrets WHERE user_id IN (SELECT user_id FROM g) AND kind = 'google_refresh'), "
	    "d AS (DELETE FROM jobs WHERE user_id IN (SELECT user_id FROM g) AND kind LIKE 'google.%' "
	    "AND kind <> 'google.revoke' AND state IN ('queued', 'failed', 'paused')) "
	    "DELETE FROM google_accounts WHERE user_id IN (SELECT user_id FROM g) RETURNING user_id",
	[STMT_GOOGLE_JOBS_BY_STATE] =
	    "SELECT kind, state::text, count(*) FROM jobs WHERE user_id = $1::bigint AND kind LIKE 'google.%' "
	    "AND state <> 'done' GROUP BY kind, state ORDER BY kind, state",
	[STMT_GOOGLE_COLOR_RULE_PUT] =
	    "INSERT INTO google_color_rules (user_id, kind, ref_id, color_id) VALUES ($1::bigint, $2, $3::bigint, "
	    "$4::smallint) ON CONFLICT (user_id, kind, ref_id) DO UPDATE SET color_id = EXCLUDED.color_id",
	[STMT_GOOGLE_COLOR_RULE_DELETE] =
	    "DELETE FROM google_color_rules WHERE user_id = $1::bigint AND kind = $2 AND ref_id = $3::bigint",
	[STMT_GOOGLE_COLOR_RULE_LIST] =
	    "SELECT r.kind, r.ref_id, r.color_id, coalesce(t.name, p.name, c.name, w.name) FROM google_color_rules r "
	    "LEFT JOIN toggl_tags t ON r.kind = 'tag' AND t.id = r.ref_id "
	    "LEFT JOIN toggl_projects p ON r.kind = 'project' AND p.id = r.ref_id "
	    "LEFT JOIN toggl_clients c ON r.kind = 'client' AND c.id = r.ref_id "
	    "LEFT JOIN toggl_workspaces w ON r.kind = 'workspace' AND w.id = r.ref_id "
	    "WHERE r.user_id = $1::bigint ORDER BY r.kind, r.ref_id",
#undef GOOGLE_ENTRY_COLS
#undef GOOGLE_ENTRY_FROM

	/* grafana (issue 5) */
	/* Per-transaction settings of a Grafana request: $1 statement_timeout (ms), $2 work_mem (kB). A
	 * custom plan for every run folds the CASE on group/unit/metric parameters away, so each request
	 * gets the plan of the one query it is; JIT compiles longer than these queries run. */
	[STMT_GRAFANA_SETTINGS] =
	    "SELECT set_config('statement_timeout', $1, true), set_config('work_mem', $2 || 'kB', true), "
	    "set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true), "
	    "set_config('transaction_read_only', 'on', true)",
	/* Every zone name PostgreSQL knows (cached per process: the view reads the zone files). */
	[STMT_GRAFANA_TZ_NAMES] = "SELECT name FROM pg_timezone_names",
	/* User $1's Toggl time zone and first day of the week (NULL without an account), and our own zone. */
	[STMT_GRAFANA_ACCOUNT] =
	    "SELECT ta.time_zone, ta.beginning_of_week, u.time_zone FROM users u "
	    "LEFT JOIN toggl_accounts ta ON ta.user_id = u.id WHERE u.id = $1::bigint",
	/* Users named by id or e-mail ($1 text[]): each ref with its user, NULLs when there is none. */
	[STMT_GRAFANA_USERS_RESOLVE] =
	    "SELECT r.ref, u.id, u.email FROM unnest($1::text[]) AS r(ref) "
	    "LEFT JOIN LATERAL (SELECT id, email FROM users WHERE id::text = r.ref OR lower(email) = lower(r.ref) "
	    "ORDER BY id LIMIT 1) u ON true",

/* The entries of users $1 (NULL: everyone) overlapping [$2, $3), never deleted ones. Entries up to a day
 * long come from a range scan on start in the covering indexes of sql/006_grafana.sql (an entry that
 * overlaps the range began at most a day before it); longer and running ones come from their own small
 * partial index, so an entry of any length is found without scanning from the beginning of time. */
#define GF_SCAN_COLS "te.id, te.user_id, te.workspace_id, te.project_id, te.billable, te.description, te.tags, " \
	"te.start, te.stop, te.duration"
#define GF_SCAN \
	"(SELECT " GF_SCAN_COLS " FROM time_entries te WHERE ($1::bigint[] IS NULL OR te.user_id = ANY ($1::bigint[])) " \
	"AND te.server_deleted_at IS NULL AND te.start < $3::timestamptz AND te.start > $2::timestamptz - interval '1 day' " \
	"AND te.stop IS NOT NULL AND te.stop - te.start <= interval '1 day' UNION ALL " \
	"SELECT " GF_SCAN_COLS " FROM time_entries te WHERE ($1::bigint[] IS NULL OR te.user_id = ANY ($1::bigint[])) " \
	"AND te.server_deleted_at IS NULL AND te.start < $3::timestamptz " \
	"AND (te.stop IS NULL OR te.stop - te.start > interval '1 day'))"
/* An entry's end: stop, else start + duration, NULL while running (negative duration). */
#define GF_END "CASE WHEN e.stop IS NOT NULL THEN e.stop WHEN e.duration >= 0 " \
	"THEN e.start + make_interval(secs => e.duration) END"
/* ...with fin its end and s..t its part inside the range (a running entry counts up to now). */
#define GF_CLIPPED \
	"(SELECT e.*, " GF_END " AS fin, greatest(e.start, $2::timestamptz) AS s, " \
	"least(coalesce(" GF_END ", now()), $3::timestamptz) AS t FROM " GF_SCAN " e) e "
#define GF_JOINS \
	"LEFT JOIN toggl_projects p ON p.id = e.project_id LEFT JOIN toggl_clients c ON c.id = p.client_id " \
	"LEFT JOIN toggl_workspaces w ON w.id = e.workspace_id LEFT JOIN users u ON u.id = e.user_id "
/* The labels filters match and groups show; names not fetched from Toggl yet show as "project 123". */
#define GF_PROJECT "coalesce(p.name, CASE WHEN e.project_id IS NULL THEN '(no project)' " \
	"ELSE 'project ' || e.project_id END)"
#define GF_CLIENT "coalesce(c.name, CASE WHEN p.client_id IS NULL THEN '(no client)' " \
	"ELSE 'client ' || p.client_id END)"
#define GF_WORKSPACE "coalesce(w.name, 'workspace ' || e.workspace_id)"
#define GF_DESCRIPTION "coalesce(nullif(e.description, ''), '(no description)')"
#define GF_TAGS "CASE WHEN cardinality(e.tags) = 0 THEN ARRAY['(no tag)'] ELSE e.tags END"
/* Filters: a JSON array of {k, op, v} in parameter P (NULL: none; src/grafana/filters.c writes it); every
 * one must hold. Keys ending in "#ref" come from payload multi-selects and match an id or a name. */
#define GF_FILTER_CTE(P) \
	"f AS MATERIALIZED (SELECT k, op, v FROM jsonb_to_recordset(" P "::jsonb) AS f(k text, op text, v text[]))"
#define GF_FILTER_OK(P) \
	"(" P "::jsonb IS NULL OR NOT EXISTS (SELECT 1 FROM f WHERE NOT coalesce(CASE f.k " \
	"WHEN 'project' THEN grafana_match(" GF_PROJECT ", f.op, f.v) " \
	"WHEN 'project#ref' THEN coalesce(e.project_id, 0)::text = ANY (f.v) OR p.name = ANY (f.v) " \
	"WHEN 'client' THEN grafana_match(" GF_CLIENT ", f.op, f.v) " \
	"WHEN 'client#ref' THEN coalesce(p.client_id, 0)::text = ANY (f.v) OR c.name = ANY (f.v) " \
	"WHEN 'workspace' THEN grafana_match(" GF_WORKSPACE ", f.op, f.v) " \
	"WHEN 'workspace#ref' THEN e.workspace_id::text = ANY (f.v) OR w.name = ANY (f.v) " \
	"WHEN 'tag' THEN grafana_match_tags(e.tags, f.op, f.v) " \
	"WHEN 'billable' THEN grafana_match(e.billable::text, f.op, f.v) " \
	"WHEN 'description' THEN grafana_match(" GF_DESCRIPTION ", f.op, f.v) " \
	"WHEN 'user' THEN grafana_match(u.email, f.op, f.v) END, false)))"
/* A time series: $1 users, $2..$3 range, $4 zone, $5 unit (hour day week month all), $6 units per
 * bucket, $7 first day of the week (0 Sunday), $8 group, $9 filters, $10 metric, $11 at most this many
 * buckets. The bucket bounds are computed once, in local time for days and longer (so a DST day is 23
 * or 25 hours long) and in absolute time for hours; then every entry finds its first and last bucket by
 * binary search (width_bucket) and only the few that span several are split by overlap. Rows: buckets
 * (kind 0: index, epoch ms; the last is the end bound), then per series (ordered) its label (kind 1)
 * and its values (kind 2: bucket index, value). Columns: ser, kind, i, ms, kid, ktx, cur, label, color, v. */
#define GF_SERIES(KTX, KEYJOIN) \
	"WITH o AS MATERIALIZED (SELECT CASE WHEN $5 = 'all' THEN ARRAY[$2::timestamptz, $3::timestamptz] " \
	"ELSE array_append(array_agg(x ORDER BY g) FILTER (WHERE x < $3::timestamptz), " \
	"coalesce(min(x) FILTER (WHERE x >= $3::timestamptz), $3::timestamptz)) END AS b " \
	"FROM (SELECT g, CASE WHEN $5 = 'hour' THEN ol AT TIME ZONE $4 + g * st ELSE (ol + g * st) AT TIME ZONE $4 END AS x " \
	"FROM (SELECT CASE $5 WHEN 'month' THEN date_trunc('year', l) + make_interval(months => " \
	"((date_part('month', l)::int - 1) / $6) * $6) " \
	"WHEN 'week' THEN date_trunc('day', l) - make_interval(days => (date_part('dow', l)::int - $7 + 7) % 7) " \
	"WHEN 'hour' THEN date_trunc('day', l) + make_interval(hours => (date_part('hour', l)::int / $6) * $6) " \
	"ELSE date_trunc('day', l) END AS ol, " \
	"CASE $5 WHEN 'hour' THEN make_interval(hours => $6) WHEN 'day' THEN make_interval(days => $6) " \
	"WHEN 'week' THEN make_interval(days => 7 * $6) ELSE make_interval(months => $6) END AS st " \
	"FROM (SELECT $2::timestamptz AT TIME ZONE $4 AS l) l0) o0 " \
	"CROSS JOIN generate_series(0, $11::int) g) o1), " \
	"ob AS MATERIALIZED (SELECT o.b, ARRAY(SELECT date_part('epoch', u.y) - date_part('epoch', $2::timestamptz) " \
	"FROM unnest(o.b) WITH ORDINALITY AS u(y, n) ORDER BY u.n) AS be FROM o), " \
	GF_FILTER_CTE("$9") ", " \
	"r AS (SELECT x.*, width_bucket(x.se, ob.be) AS i0, width_bucket(x.te - 1e-6, ob.be) AS i1 FROM (" \
	"SELECT date_part('epoch', e.s) - date_part('epoch', $2::timestamptz) AS se, " \
	"date_part('epoch', e.t) - date_part('epoch', $2::timestamptz) AS te, e.billable, " \
	"CASE $8 WHEN 'project' THEN coalesce(e.project_id, 0) WHEN 'client' THEN coalesce(p.client_id, 0) " \
	"WHEN 'workspace' THEN e.workspace_id WHEN 'user' THEN e.user_id WHEN 'billable' THEN e.billable::int END AS kid, " \
	KTX " AS ktx, CASE WHEN $10 = 'earnings' THEN p.rate::float8 END AS rate, " \
	"CASE WHEN $10 = 'earnings' THEN coalesce(p.currency, '') END AS cur " \
	"FROM " GF_CLIPPED GF_JOINS KEYJOIN \
	"WHERE e.t > e.s AND ($10 <> 'earnings' OR (e.billable AND p.rate IS NOT NULL)) AND " GF_FILTER_OK("$9") \
	") x CROSS JOIN ob), " \
	"px AS (SELECT r.*, generate_series(r.i0, r.i1) AS i FROM r), " \
	"a AS MATERIALIZED (SELECT px.i, px.kid, px.ktx, px.cur, count(*) FILTER (WHERE px.i = px.i0) AS n, " \
	"sum(" GF_PIECE " * CASE $10 WHEN 'earnings' THEN px.rate WHEN 'billable_ratio' THEN px.billable::int " \
	"ELSE 1 END) AS num, CASE WHEN $10 = 'billable_ratio' THEN sum(" GF_PIECE ") END AS den " \
	"FROM px CROSS JOIN ob GROUP BY px.i, px.kid, px.ktx, px.cur), " \
	"l AS (SELECT k.kid, k.ktx, k.cur, CASE $8 " \
	"WHEN 'project' THEN coalesce(p.name, CASE k.kid WHEN 0 THEN '(no project)' ELSE 'project ' || k.kid END) " \
	"WHEN 'client' THEN coalesce(c.name, CASE k.kid WHEN 0 THEN '(no client)' ELSE 'client ' || k.kid END) " \
	"WHEN 'workspace' THEN coalesce(w.name, 'workspace ' || k.kid) " \
	"WHEN 'billable' THEN CASE k.kid WHEN 1 THEN 'billable' ELSE 'non-billable' END " \
	"WHEN 'user' THEN coalesce(u.email, 'user ' || k.kid) ELSE coalesce(k.ktx, '') END AS label, p.color " \
	"FROM (SELECT DISTINCT kid, ktx, cur FROM a) k " \
	"LEFT JOIN toggl_projects p ON $8 = 'project' AND p.id = k.kid " \
	"LEFT JOIN toggl_clients c ON $8 = 'client' AND c.id = k.kid " \
	"LEFT JOIN toggl_workspaces w ON $8 = 'workspace' AND w.id = k.kid " \
	"LEFT JOIN users u ON $8 = 'user' AND u.id = k.kid) " \
	"SELECT false AS ser, 0 AS kind, g.i::int AS i, (date_part('epoch', g.y) * 1000)::bigint AS ms, " \
	"NULL::bigint AS kid, NULL::text AS ktx, NULL::text AS cur, NULL::text AS label, NULL::text AS color, " \
	"NULL::float8 AS v FROM o CROSS JOIN unnest(o.b) WITH ORDINALITY AS g(y, i) " \
	"UNION ALL SELECT true, 1, NULL, NULL, l.kid, l.ktx, l.cur, l.label, l.color, NULL FROM l " \
	"UNION ALL SELECT true, 2, a.i, NULL, a.kid, a.ktx, a.cur, NULL, NULL, CASE $10 WHEN 'entries' THEN a.n " \
	"WHEN 'billable_ratio' THEN a.num / nullif(a.den, 0) ELSE a.num / 3600 END FROM a " \
	"ORDER BY 1, 5, 6, 7, 2, 3"
/* The seconds of an entry inside bucket i: all of them when it lies in one bucket, else the overlap. */
#define GF_PIECE "CASE WHEN px.i0 = px.i1 THEN px.te - px.se " \
	"ELSE least(px.te, ob.be[px.i + 1]) - greatest(px.se, ob.be[px.i]) END"
	[STMT_GRAFANA_SERIES] =
	    GF_SERIES("CASE $8 WHEN 'description' THEN " GF_DESCRIPTION " END", ""),
	/* The same grouped by tag: an entry counts once under each of its tags. */
	[STMT_GRAFANA_SERIES_TAG] =
	    GF_SERIES("tg.tag", "CROSS JOIN LATERAL unnest(" GF_TAGS ") AS tg(tag) "),
	/* Entries of users $1 overlapping [$2, $3) that pass filters $4, newest first, at most $5: id, start
	 * ms, end ms (NULL while running), hours (running: up to now), project, client, tags as text and as a
	 * JSON array, description, billable, e-mail, project color. */
	[STMT_GRAFANA_ENTRIES] =
	    "WITH " GF_FILTER_CTE("$4") " SELECT e.id, (date_part('epoch', e.start) * 1000)::bigint, "
	    "(date_part('epoch', e.fin) * 1000)::bigint, date_part('epoch', coalesce(e.fin, now()) - e.start) / 3600, "
	    GF_PROJECT ", " GF_CLIENT ", array_to_string(e.tags, ', '), array_to_json(e.tags)::text, "
	    "coalesce(e.description, ''), e.billable, u.email, p.color FROM " GF_CLIPPED GF_JOINS
	    "WHERE e.t > e.s AND " GF_FILTER_OK("$4") " ORDER BY e.start DESC, e.id DESC LIMIT $5::int",
	/* Running entries of users $1 that pass filters $2: id, start ms, elapsed hours, project, client, tags,
	 * description, billable, e-mail, project color. */
	[STMT_GRAFANA_RUNNING] =
	    "WITH " GF_FILTER_CTE("$2") " SELECT e.id, (date_part('epoch', e.start) * 1000)::bigint, "
	    "date_part('epoch', now() - e.start) / 3600, " GF_PROJECT ", " GF_CLIENT ", "
	    "array_to_string(e.tags, ', '), coalesce(e.description, ''), e.billable, u.email, p.color "
	    "FROM time_entries e " GF_JOINS "WHERE ($1::bigint[] IS NULL OR e.user_id = ANY ($1::bigint[])) "
	    "AND e.stop IS NULL AND e.server_deleted_at IS NULL AND e.duration < 0 AND e.start <= now() AND "
	    GF_FILTER_OK("$2") " ORDER BY e.start DESC, e.id DESC",
	/* Choices of kind $2 (project client tag workspace user) visible to users $1 (NULL: all): the
	 * workspaces they connected or have entries in. $3 narrows to workspaces, $4 projects to clients (ids
	 * or names). At most $5 rows of (value, text); the "(no ...)" choice comes last. */
	[STMT_GRAFANA_LIST] =
	    "WITH vw AS MATERIALIZED (SELECT w.id, w.name FROM toggl_workspaces w WHERE $1::bigint[] IS NULL "
	    "OR w.user_id = ANY ($1::bigint[]) OR w.id IN (SELECT te.workspace_id FROM time_entries te "
	    "WHERE te.user_id = ANY ($1::bigint[]) AND te.server_deleted_at IS NULL)), "
	    "ws AS (SELECT id, name FROM vw WHERE $3::text[] IS NULL OR id::text = ANY ($3::text[]) "
	    "OR name = ANY ($3::text[])) "
	    "SELECT value, text FROM ("
	    "SELECT 'project' AS k, p.id::text AS value, p.name AS text, 0 AS last FROM toggl_projects p "
	    "WHERE NOT p.deleted AND p.workspace_id IN (SELECT id FROM ws) AND ($4::text[] IS NULL "
	    "OR coalesce(p.client_id, 0)::text = ANY ($4::text[]) "
	    "OR p.client_id IN (SELECT id FROM toggl_clients WHERE name = ANY ($4::text[]))) "
	    "UNION ALL SELECT 'project', '0', '(no project)', 1 "
	    "UNION ALL SELECT 'client', c.id::text, c.name, 0 FROM toggl_clients c "
	    "WHERE NOT c.deleted AND c.workspace_id IN (SELECT id FROM ws) "
	    "UNION ALL SELECT 'client', '0', '(no client)', 1 "
	    "UNION ALL (SELECT DISTINCT 'tag', t.name, t.name, 0 FROM toggl_tags t "
	    "WHERE NOT t.deleted AND t.workspace_id IN (SELECT id FROM ws)) "
	    "UNION ALL SELECT 'tag', '(no tag)', '(no tag)', 1 "
	    "UNION ALL SELECT 'workspace', ws.id::text, ws.name, 0 FROM ws "
	    "UNION ALL SELECT 'user', u.id::text, u.email, 0 FROM users u "
	    "WHERE $1::bigint[] IS NULL OR u.id = ANY ($1::bigint[])"
	    ") x WHERE k = $2 ORDER BY last, text, value LIMIT $5::int",
	/* Distinct values of key $5 among the entries of users $1 in [$2, $3) that pass filters $4 (the
	 * caller leaves out the filters on $5 itself), at most $6. */
	[STMT_GRAFANA_TAG_VALUES] =
	    "WITH " GF_FILTER_CTE("$4") " SELECT v FROM (SELECT DISTINCT CASE $5 WHEN 'project' THEN " GF_PROJECT " "
	    "WHEN 'client' THEN " GF_CLIENT " WHEN 'workspace' THEN " GF_WORKSPACE " "
	    "WHEN 'billable' THEN e.billable::text WHEN 'description' THEN " GF_DESCRIPTION " "
	    "WHEN 'user' THEN u.email WHEN 'tag' THEN tg.tag END AS v FROM " GF_CLIPPED GF_JOINS
	    "CROSS JOIN LATERAL unnest(CASE WHEN $5 = 'tag' THEN " GF_TAGS " ELSE ARRAY[NULL::text] END) AS tg(tag) "
	    "WHERE e.t > e.s AND " GF_FILTER_OK("$4") ") x WHERE v IS NOT NULL ORDER BY v LIMIT $6::int",
#undef GF_SCAN_COLS
#undef GF_SCAN
#undef GF_END
#undef GF_CLIPPED
#undef GF_JOINS
#undef GF_PROJECT
#undef GF_CLIENT
#undef GF_WORKSPACE
#undef GF_DESCRIPTION
#undef GF_TAGS
#undef GF_FILTER_CTE
#undef GF_FILTER_OK
#undef GF_SERIES
#undef GF_PIECE

	/* admin (issue 6): the pages' reads, and the login throttle. Times are formatted by the database in the
	 * viewer's zone (a parameter, always a zone name the users table accepted); "seconds ago" columns feed
	 * the relative times. */
#define ADMIN_TS(col, tz) "to_char(" col " AT TIME ZONE " tz ", 'YYYY-MM-DD HH24:MI')"
#define ADMIN_AGO(col) "extract(epoch FROM now() - " col ")::bigint"
	/* Failed logins in the window ($3 s) for the account $1 and the address $2, and how long until each
	 * drops below its limit ($4, $5): when the limit-th newest failure ages out. */
	[STMT_ADMIN_LOGIN_THROTTLE] =
	    "WITH a AS (SELECT at FROM login_attempts WHERE email = $1 AND NOT ok "
	    "AND at > now() - make_interval(secs => $3::int)), "
	    "d AS (SELECT at FROM login_attempts WHERE remote_addr = coalesce($2, '') AND NOT ok "
	    "AND at > now() - make_interval(secs => $3::int)) "
	    "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM d), "
	    "coalesce(ceil(extract(epoch FROM (SELECT at FROM a ORDER BY at DESC OFFSET greatest($4::int - 1, 0) "
	    "LIMIT 1) + make_interval(secs => $3::int) - now())), 0)::int, "
	    "coalesce(ceil(extract(epoch FROM (SELECT at FROM d ORDER BY at DESC OFFSET greatest($5::int - 1, 0) "
	    "LIMIT 1) + make_interval(secs => $3::int) - now())), 0)::int",
	/* A check's outcome ($3): a failure is recorded; a success forgets the account's failures (never the
	 * address's). Rows past the window ($4 s) go at the same time. */
	[STMT_ADMIN_LOGIN_RECORD] =
	    "WITH clear AS (DELETE FROM login_attempts WHERE $3::boolean AND email = $1 AND NOT ok), "
	    "purge AS (DELETE FROM login_attempts WHERE at < now() - make_interval(secs => $4::int)) "
	    "INSERT INTO login_attempts (email, remote_addr, ok) SELECT $1, coalesce($2, ''), false "
	    "WHERE NOT $3::boolean",
	[STMT_ADMIN_USERS] =
	    "SELECT u.id, u.email, u.is_admin, u.disabled, to_char(u.created_at AT TIME ZONE $1, 'YYYY-MM-DD'), "
	    "extract(epoch FROM now() - (SELECT max(s.last_seen_at) FROM sessions s WHERE s.user_id = u.id))::bigint, "
	    "EXISTS (SELECT 1 FROM toggl_accounts a WHERE a.user_id = u.id), "
	    "EXISTS (SELECT 1 FROM google_accounts g WHERE g.user_id = u.id) FROM users u ORDER BY lower(u.email)",
	[STMT_ADMIN_TODAY] = "SELECT (now() AT TIME ZONE $1)::date::text",
	/* Hours per day and project over the last $3 days of zone $2: finished entries only (a running entry's
	 * negative duration is never counted), each on the day it started. Day 0 is the first of the span. */
	[STMT_ADMIN_CHART] =
	    "WITH d0 AS (SELECT (now() AT TIME ZONE $2)::date - ($3::int - 1) AS first) "
	    "SELECT (e.start AT TIME ZONE $2)::date - d0.first, coalesce(e.project_id, 0), p.name, p.color, "
	    "sum(e.duration)::bigint FROM d0, time_entries e LEFT JOIN toggl_projects p ON p.id = e.project_id "
	    "WHERE e.user_id = $1::bigint AND e.server_deleted_at IS NULL AND e.stop IS NOT NULL AND e.duration > 0 "
	    "AND e.start >= (d0.first::timestamp AT TIME ZONE $2) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2",
	[STMT_ADMIN_TOGGL_ACCOUNT] =
	    "SELECT a.status, a.status_detail, a.email, a.fullname, a.time_zone, a.quota_remaining, "
	    "extract(epoch FROM a.quota_resets_at - now())::bigint, extract(epoch FROM a.rate_limited_until - now())::bigint, "
	    ADMIN_AGO("a.last_pull_at") ", " ADMIN_TS("a.last_pull_at", "$2") ", "
	    "EXISTS (SELECT 1 FROM secrets s WHERE s.user_id = a.user_id AND s.kind = 'toggl_token'), a.toggl_user_id "
	    "FROM toggl_accounts a WHERE a.user_id = $1::bigint",
	[STMT_ADMIN_TOGGL_QUOTA] =
	    "SELECT q.bucket, q.remaining, extract(epoch FROM q.resets_at - now())::bigint, o.name, o.plan "
	    "FROM toggl_quota q LEFT JOIN toggl_organizations o ON o.id = q.organization_id "
	    "WHERE q.user_id = $1::bigint ORDER BY q.bucket <> 'user', q.bucket",
	/* The user's workspaces with our live subscription in each, and subscriptions of workspaces we have no
	 * metadata for. */
	[STMT_ADMIN_WORKSPACES] =
	    "SELECT coalesce(w.id, s.workspace_id), coalesce(w.name, ''), s.id, s.enabled, s.validated_at IS NOT NULL, "
	    ADMIN_AGO("s.last_event_at") ", " ADMIN_TS("s.last_event_at", "$2") ", coalesce(s.has_pending, false), "
	    "(SELECT string_agg(DISTINCT coalesce(f->>'entity', f #>> '{}'), ', ') FROM jsonb_array_elements("
	    "CASE WHEN jsonb_typeof(s.event_filters) = 'array' THEN s.event_filters ELSE '[]' END) f), "
	    "coalesce(w.mirror_everyone, false), o.plan "
	    "FROM (SELECT * FROM toggl_workspaces WHERE user_id = $1::bigint) w "
	    "FULL JOIN (SELECT * FROM webhook_subscriptions WHERE user_id = $1::bigint AND revoked_at IS NULL) s "
	    "ON s.workspace_id = w.id LEFT JOIN toggl_organizations o ON o.id = w.organization_id "
	    "ORDER BY lower(coalesce(w.name, '')), 1",
	[STMT_ADMIN_JOB_FAILURES] =
	    "SELECT count(*) FROM jobs WHERE ($1::bigint IS NULL OR user_id = $1::bigint) "
	    "AND state IN ('failed', 'dead') AND updated_at > now() - interval '24 hours'",
	[STMT_ADMIN_GOOGLE_ACCOUNT] =
	    "SELECT g.status, g.status_detail, g.calendar_id, g.calendar_name, g.backfill_days, g.running_refresh_min, "
	    "extract(epoch FROM g.backoff_until - now())::bigint, " ADMIN_AGO("g.validated_at") ", g.validation::text, "
	    ADMIN_TS("g.connected_at", "$2") ", g.scopes FROM google_accounts g WHERE g.user_id = $1::bigint",
	[STMT_ADMIN_MIRRORED_TODAY] =
	    "SELECT count(*) FROM google_mirror WHERE user_id = $1::bigint AND state = 'synced' "
	    "AND synced_at >= ((now() AT TIME ZONE $2)::date::timestamp AT TIME ZONE $2)",
	/* The entries list: $1 user (NULL: all), $2 text in the description, $3/$4 first and last day in zone
	 * $7, $5 project (0: none), $6 mirror state ('none': not mirrored; 'deleted' also shows tombstones),
	 * $8 rows from $9. The last column is the number of rows the filters match. */
	[STMT_ADMIN_ENTRY_LIST] =
	    "SELECT e.id, to_char(e.start AT TIME ZONE $7, 'Dy DD Mon YYYY'), to_char(e.start AT TIME ZONE $7, 'HH24:MI'), "
	    "to_char(e.stop AT TIME ZONE $7, 'HH24:MI'), e.duration, e.stop IS NULL, e.description, p.name, p.color, "
	    "array_to_string(e.tags, ', '), u.email, coalesce(m.state, 'none'), m.last_error, "
	    ADMIN_AGO("e.start") ", e.server_deleted_at IS NOT NULL, count(*) OVER () "
	    "FROM time_entries e JOIN users u ON u.id = e.user_id LEFT JOIN toggl_projects p ON p.id = e.project_id "
	    "LEFT JOIN google_mirror m ON m.entry_id = e.id "
	    "WHERE (e.server_deleted_at IS NULL OR $6::text = 'deleted') AND ($1::bigint IS NULL OR e.user_id = $1::bigint) "
	    "AND ($2::text IS NULL OR strpos(lower(coalesce(e.description, '')), lower($2::text)) > 0) "
	    "AND ($3::date IS NULL OR e.start >= ($3::date::timestamp AT TIME ZONE $7)) "
	    "AND ($4::date IS NULL OR e.start < (($4::date + 1)::timestamp AT TIME ZONE $7)) "
	    "AND ($5::bigint IS NULL OR coalesce(e.project_id, 0) = $5::bigint) "
	    "AND ($6::text IS NULL OR coalesce(m.state, 'none') = $6::text) "
	    "ORDER BY e.start DESC, e.id DESC LIMIT $8::int OFFSET $9::int",
	[STMT_ADMIN_ENTRY_PROJECTS] =
	    "SELECT p.id, p.name, coalesce(w.name, '') FROM toggl_projects p "
	    "LEFT JOIN toggl_workspaces w ON w.id = p.workspace_id WHERE NOT p.deleted AND ($1::bigint IS NULL "
	    "OR w.user_id = $1::bigint OR p.workspace_id IN (SELECT workspace_id FROM webhook_subscriptions "
	    "WHERE user_id = $1::bigint AND revoked_at IS NULL)) ORDER BY lower(p.name), p.id LIMIT $2::int",
	/* Of the ids $1 (an array literal), the live entries $2 (NULL: anyone) may resync. */
	[STMT_ADMIN_ENTRY_OWNED] =
	    "SELECT id, user_id, version FROM time_entries WHERE id = ANY ($1::bigint[]) "
	    "AND ($2::bigint IS NULL OR user_id = $2::bigint) AND server_deleted_at IS NULL ORDER BY id",
	/* $1: 'all', 'active' (queued, running, failed or paused) or one state. */
	[STMT_ADMIN_JOB_LIST] =
	    "SELECT j.id, j.kind, j.state::text, j.attempts, j.max_attempts, " ADMIN_AGO("j.run_after") ", "
	    ADMIN_TS("j.run_after", "$3") ", j.last_error, coalesce(u.email, ''), " ADMIN_AGO("j.updated_at") ", "
	    ADMIN_TS("j.updated_at", "$3") ", j.progress::text, count(*) OVER () "
	    "FROM jobs j LEFT JOIN users u ON u.id = j.user_id "
	    "WHERE CASE $1::text WHEN 'all' THEN true "
	    "WHEN 'active' THEN j.state IN ('queued', 'running', 'failed', 'paused') "
	    "ELSE j.state::text = $1::text END AND ($2::bigint IS NULL OR j.user_id = $2::bigint) "
	    "ORDER BY j.id DESC LIMIT $4::int OFFSET $5::int",
	[STMT_ADMIN_TOKEN_LIST] =
	    "SELECT id, name, prefix, " ADMIN_TS("created_at", "$2") ", " ADMIN_AGO("last_used_at") ", "
	    ADMIN_TS("last_used_at", "$2") ", revoked_at IS NOT NULL, " ADMIN_TS("revoked_at", "$2") " "
	    "FROM api_tokens WHERE user_id = $1::bigint ORDER BY revoked_at IS NOT NULL, id DESC",
	[STMT_ADMIN_SCHEDULES] =
	    "SELECT s.name, s.cron, s.enabled, " ADMIN_AGO("s.next_run_at") ", " ADMIN_TS("s.next_run_at", "$1") ", "
	    ADMIN_AGO("s.last_run_at") ", " ADMIN_TS("s.last_run_at", "$1") ", coalesce(u.email, '') "
	    "FROM schedules s LEFT JOIN users u ON u.id = s.user_id ORDER BY s.name",
	[STMT_ADMIN_IMPORTS] =
	    "SELECT r.since::text, r.until::text, r.state, r.fetched, r.inserted, r.updated, r.unchanged, r.deleted, "
	    "r.last_error, " ADMIN_AGO("r.started_at") ", " ADMIN_TS("r.started_at", "$2") ", r.method, "
	    "j.progress::text, j.state::text, r.cursor::text FROM toggl_import_runs r LEFT JOIN jobs j ON j.id = r.job_id "
	    "WHERE r.user_id = $1::bigint ORDER BY r.id DESC LIMIT $3::int",
	/* The user's latest jobs of kinds LIKE $2. */
	[STMT_ADMIN_USER_JOBS] =
	    "SELECT j.id, j.kind, j.state::text, j.attempts, j.last_error, j.progress::text, " ADMIN_AGO("j.updated_at") ", "
	    ADMIN_TS("j.updated_at", "$3") ", j.payload::text FROM jobs j "
	    "WHERE j.user_id = $1::bigint AND j.kind LIKE $2 ORDER BY j.id DESC LIMIT $4::int",
	/* May user $1 act on workspace $2: connected it, or holds a live subscription in it. */
	[STMT_ADMIN_WORKSPACE_OWNED] =
	    "SELECT EXISTS (SELECT 1 FROM toggl_workspaces WHERE id = $2::bigint AND user_id = $1::bigint) "
	    "OR EXISTS (SELECT 1 FROM webhook_subscriptions WHERE workspace_id = $2::bigint AND user_id = $1::bigint "
	    "AND revoked_at IS NULL)",
	/* What a colour rule may name: the tags, projects, clients and workspaces of the user's workspaces. */
#define ADMIN_COLOR_REFS \
	    "WITH ws AS (SELECT id, name FROM toggl_workspaces WHERE user_id = $1::bigint), " \
	    "refs AS (SELECT 'tag' AS kind, t.id, t.name, ws.name AS ws FROM toggl_tags t JOIN ws ON ws.id = t.workspace_id " \
	    "WHERE NOT t.deleted UNION ALL SELECT 'project', p.id, p.name, ws.name FROM toggl_projects p " \
	    "JOIN ws ON ws.id = p.workspace_id WHERE NOT p.deleted UNION ALL SELECT 'client', c.id, c.name, ws.name " \
	    "FROM toggl_clients c JOIN ws ON ws.id = c.workspace_id WHERE NOT c.deleted " \
	    "UNION ALL SELECT 'workspace', ws.id, ws.name, ws.name FROM ws) "
	[STMT_ADMIN_COLOR_REFS] =
	    ADMIN_COLOR_REFS "SELECT kind, id, name, ws FROM refs "
	    "ORDER BY array_position(ARRAY['tag', 'project', 'client', 'workspace'], kind), lower(name), id LIMIT $2::int",
	[STMT_ADMIN_COLOR_REF_OWNED] =
	    ADMIN_COLOR_REFS "SELECT name FROM refs WHERE kind = $2 AND id = $3::bigint",
#undef ADMIN_COLOR_REFS
#undef ADMIN_TS
#undef ADMIN_AGO
};

/* Prepared-statement names are "s" plus the index, so they never collide and need no second table. */
void
stmt_name(enum stmt s, char out[STMT_NAME_LEN])
{
	snprintf(out, STMT_NAME_LEN, "s%d", (int)s);
}

const char *
stmt_sql(enum stmt s)
{
	return (s >= 0 && s < STMT__MAX) ? stmt_text[s] : NULL;
}

static int
count_params(enum stmt s)
{
	const char *p = stmt_sql(s);
	int max = 0, n;

	if (p == NULL)
		return -1;
	for (; *p; p++) {
		/* Skip string literals so a '$' inside one is not taken for a parameter. */
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				;
			if (*p == '\0')
				break;
			continue;
		}
		if (*p == '$' && isdigit((unsigned char)p[1])) {
			n = 0;
			while (isdigit((unsigned char)p[1]))
				n = n * 10 + (*++p - '0');
			if (n > max)
				max = n;
		}
	}
	return max;
}

/* Counted once: db_exec() checks every call against it, on the hot path. */
static int nparams[STMT__MAX];
static pthread_once_t nparams_once = PTHREAD_ONCE_INIT;

static void
count_all(void)
{
	for (int i = 0; i < STMT__MAX; i++)
		nparams[i] = count_params((enum stmt)i);
}

int
stmt_nparams(enum stmt s)
{
	if (s < 0 || s >= STMT__MAX)
		return -1;
	pthread_once(&nparams_once, count_all);
	return nparams[s];
}
