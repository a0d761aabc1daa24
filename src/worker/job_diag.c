/* job_diag.c: job kinds that exercise the worker itself (diag.sleep, used by the end-to-end tests) and
 * the housekeeping job (maintenance.purge, fired by a built-in schedule). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "util/log.h"
#include "worker/worker.h"

#define DIAG_SLEEP_MAX_MS (3600 * 1000)  /* a diagnostic job never needs to sleep longer */

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Integer member of obj, or def when missing; -1 when present but not a non-negative integer. */
static json_int_t
get_uint(const json_t *obj, const char *key, json_int_t def)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return def;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return json_integer_value(v);
}

/* How often this job was deferred so far: the count is in the last error ("deferred N ..."). */
static int
job_diag_deferrals(struct job *job)
{
	PGresult *r;
	char id[DB_I64_LEN];
	const char *e;
	int n = 0;

	if ((r = DB_EXEC(job->db, STMT_JOB_GET, db_i64s(job->id, id))) == NULL)
		return 0;
	if ((e = db_str(r, 0, 8)) != NULL && strncmp(e, "deferred ", 9) == 0)
		n = atoi(e + 9);
	PQclear(r);
	return n;
}

/*
 * diag.sleep: payload {"ms": N, "tag": "...", "fail": bool, "fail_attempts": N, "fatal": bool,
 * "pause": bool, "retry_after_s": X, "defer_times": N}. Sleeps ms (renewing the lease on long sleeps), then, unless told to
 * fail, writes an audit_log row (action 'diag.sleep', detail = payload + job_id, attempt, owner) in the
 * same transaction as the done mark: one row per job is the proof that it completed exactly once.
 * fail: always JOB_RETRY; fail_attempts: JOB_RETRY while attempts <= N; fatal: JOB_FATAL; pause: JOB_PAUSE;
 * defer_times: JOB_DEFER (retry_after_s later) until the job has been deferred N times, counted in the
 * error text it leaves, since a deferral does not count as an attempt.
 */
enum job_result
job_diag_sleep(struct job *job)
{
	const json_t *p = job->payload, *tag_v = json_object_get(p, "tag");
	const char *tag = json_is_string(tag_v) ? json_string_value(tag_v) : "";
	json_int_t ms = get_uint(p, "ms", 0), fail_n = get_uint(p, "fail_attempts", 0);
	json_t *detail = NULL;
	char *text = NULL, uid[DB_I64_LEN];
	int64_t slice, left;
	enum job_result res = JOB_RETRY;

	if (ms < 0 || ms > DIAG_SLEEP_MAX_MS || fail_n < 0) {
		job_error(job, "ms must be 0..%d and fail_attempts >= 0", DIAG_SLEEP_MAX_MS);
		return JOB_FATAL;
	}
	/* Renew the lease a few times per lease period, as any long handler should. */
	slice = (int64_t)job->lease_s * 1000 / 3;
	if (slice <= 0)
		slice = 1000;
	for (left = ms; left > 0; left -= slice) {
		sleep_ms(left < slice ? left : slice);
		if (left > slice && job_extend_lease(job) != 0)
			return JOB_RETRY;
	}
	if (json_is_true(json_object_get(p, "fatal"))) {
		job_error(job, "asked to fail for good (tag %s)", tag);
		return JOB_FATAL;
	}
	if (json_is_true(json_object_get(p, "pause"))) {
		job_error(job, "asked to pause (tag %s)", tag);
		return JOB_PAUSE;
	}
	if (get_uint(p, "defer_times", 0) > 0 && job_diag_deferrals(job) < get_uint(p, "defer_times", 0)) {
		if (json_is_number(json_object_get(p, "retry_after_s")))
			job->retry_after_s = json_number_value(json_object_get(p, "retry_after_s"));
		job_error(job, "deferred %d (tag %s)", job_diag_deferrals(job) + 1, tag);
		return JOB_DEFER;
	}
	if (json_is_true(json_object_get(p, "fail")) || job->attempts <= fail_n) {
		job_error(job, "asked to fail (tag %s, attempt %d)", tag, job->attempts);
		if (json_is_number(json_object_get(p, "retry_after_s")))
			job->retry_after_s = json_number_value(json_object_get(p, "retry_after_s"));
		return JOB_RETRY;
	}

	if ((detail = json_deep_copy(p)) == NULL ||
	    json_object_set_new(detail, "job_id", json_integer(job->id)) != 0 ||
	    json_object_set_new(detail, "attempt", json_integer(job->attempts)) != 0 ||
	    json_object_set_new(detail, "owner", json_string(job->owner)) != 0 ||
	    (text = json_dumps(detail, JSON_COMPACT | JSON_REAL_PRECISION(12))) == NULL) {
		job_error(job, "out of memory");
		goto out;
	}
	if (db_begin(job->db) != 0) {
		job_error(job, "begin: %s", job->db->err);
		goto out;
	}
	if (DB_RUN(job->db, STMT_AUDIT_INSERT, job->user_id > 0 ? db_i64s(job->user_id, uid) : NULL,
	        "diag.sleep", text, NULL) != 0) {
		job_error(job, "audit insert: %s", job->db->err);
		db_rollback(job->db);
		goto out;
	}
	if (job_complete(job) != 0)
		goto out;
	res = JOB_OK;
out:
	free(text);
	json_decref(detail);
	return res;
}

/*
 * maintenance.purge: payload {"done_retention_s": N, "session_idle_s": N}, both optional. Deletes done
 * jobs finished longer ago than the retention, expired sessions, and raw webhook events older than the
 * setting webhook_event_retention_days (default LIMIT_WEBHOOK_RETENTION_DAYS; 0 keeps them forever).
 */
enum job_result
job_maintenance_purge(struct job *job)
{
	json_int_t keep = get_uint(job->payload, "done_retention_s", WORKER_DONE_RETENTION_S);
	json_int_t idle = get_uint(job->payload, "session_idle_s", WORKER_SESSION_IDLE_S);
	char keep_s[DB_I64_LEN], idle_s[DB_I64_LEN];
	long jobs, sessions, events;
	PGresult *r;

	if (keep < 0 || idle < 0) {
		job_error(job, "done_retention_s and session_idle_s must be integers >= 0");
		return JOB_FATAL;
	}
	if ((r = DB_EXEC(job->db, STMT_JOB_PURGE_DONE, db_i64s(keep, keep_s))) == NULL) {
		job_error(job, "purging done jobs: %s", job->db->err);
		return JOB_RETRY;
	}
	jobs = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if ((r = DB_EXEC(job->db, STMT_SESSION_PURGE, db_i64s(idle, idle_s))) == NULL) {
		job_error(job, "purging sessions: %s", job->db->err);
		return JOB_RETRY;
	}
	sessions = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	/* Raw webhook events (issue 3): the setting webhook_event_retention_days, else the default. */
	r = DB_EXEC(job->db, STMT_WEBHOOK_PURGE_EVENTS, db_i64s(LIMIT_WEBHOOK_RETENTION_DAYS, keep_s));
	if (r == NULL) {
		job_error(job, "purging webhook events: %s", job->db->err);
		return JOB_RETRY;
	}
	events = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	log_info(job->ctx, "maintenance.purge: %ld done jobs, %ld sessions and %ld webhook events deleted", jobs,
	    sessions, events);
	return JOB_OK;
}
