/* stmt.c: the text of every SQL statement, indexed by enum stmt. Parameters only ($1..$n): never build
 * SQL from strings. Each feature keeps its statements in one block, in the order of stmt.h. */
#include "config.h"

#include <ctype.h>
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

	/* google (issue 4) */

	/* grafana (issue 5) */

	/* admin (issue 6) */
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

int
stmt_nparams(enum stmt s)
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
