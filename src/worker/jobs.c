/* jobs.c: the dispatch table of job kinds, and the runner: claim one due job under a lease, run its
 * handler, record the outcome (done, retry with backoff, dead, paused) only while the lease is still ours.
 * Also the schedules: turning due cron rows into jobs, once across all workers. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/tbtime.h"
#include "util/utf8.h"
#include "worker/worker.h"

/* Every job kind timebridge knows. Jobs of a kind missing here fail with "unknown job kind" (retried, then
 * dead). */
static const struct job_kind job_kinds[] = {
	/* kind                  handler                  lease_s (0: LIMIT_JOB_LEASE_S) */
	{ "diag.sleep",          job_diag_sleep,          0 },
	{ "maintenance.purge",   job_maintenance_purge,   600 },
	/* toggl.* (job_toggl.c) */
	{ "toggl.connect",          job_toggl_connect,          0 },
	{ "toggl.metadata",         job_toggl_metadata,         300 },
	{ "toggl.webhook_setup",    job_toggl_webhook_setup,    0 },
	{ "toggl.webhook_remove",   job_toggl_webhook_remove,   0 },
	{ "toggl.import",           job_toggl_import,           600 },
	{ "toggl.reconcile",        job_toggl_reconcile,        300 },
	/* google.* (job_google.c) */
	{ "google.calendar",        job_google_calendar,        0 },
	{ "google.sync_entry",      job_google_sync_entry,      0 },
	{ "google.backfill",        job_google_backfill,        0 },
	{ "google.validate",        job_google_validate,        600 },
	{ "google.refresh_running", job_google_refresh_running, 0 },
	{ "google.revoke",          job_google_revoke,          0 },
};

#define NKINDS (sizeof(job_kinds) / sizeof(job_kinds[0]))

const struct job_kind *
job_kind_find(const char *kind)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(job_kinds[i].kind, kind) == 0)
			return &job_kinds[i];
	return NULL;
}

size_t
job_kind_count(void)
{
	return NKINDS;
}

const struct job_kind *
job_kind_at(size_t i)
{
	return i < NKINDS ? &job_kinds[i] : NULL;
}

/* Make s valid UTF-8 in place, as PostgreSQL insists for text: invalid or truncated sequences (an error
 * cut by vsnprintf, bytes from an upstream body) become '?'. */
static void
utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = strlen(s), k;

	while (n > 0) {
		if ((k = tb_utf8_seq(p, n)) == 0) {
			*p = '?';
			k = 1;
		}
		p += k;
		n -= k;
	}
}

void
job_error(struct job *job, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(job->err, sizeof(job->err), fmt, ap);
	va_end(ap);
	utf8_clean(job->err);
	/* The outcome line of the runner carries the error; this one is for tracing a handler. */
	log_debug(job->ctx, "%s: %s", job->kind ? job->kind : "?", job->err);
}

/* Rows changed by an UPDATE/DELETE result. */
static long
affected(PGresult *r)
{
	return strtol(PQcmdTuples(r), NULL, 10);
}

/* Run a lease-guarded UPDATE of the job: 1 when it changed the row (we still hold the lease), 0 when the
 * lease is lost, -1 on a DB error. Frees the result. */
static int
lease_update(struct job *job, PGresult *r, const char *what)
{
	long n;

	if (r == NULL) {
		snprintf(job->err, sizeof(job->err), "%s: %s", what, job->db->err);
		utf8_clean(job->err);
		return -1;
	}
	n = affected(r);
	PQclear(r);
	return n == 1 ? 1 : 0;
}

int
job_extend_lease(struct job *job)
{
	char id[DB_I64_LEN], lease[16];
	int rc;

	snprintf(lease, sizeof(lease), "%d", job->lease_s);
	rc = lease_update(job, DB_EXEC(job->db, STMT_JOB_EXTEND_LEASE, db_i64s(job->id, id), job->owner, lease),
	    "extending the lease");
	if (rc == 0)
		job_error(job, "lease lost: another worker owns the job now");
	return rc == 1 ? 0 : -1;
}

int
job_progress(struct job *job, const char *json)
{
	char id[DB_I64_LEN], lease[16];
	int rc;

	snprintf(lease, sizeof(lease), "%d", job->lease_s);
	rc = lease_update(job, DB_EXEC(job->db, STMT_JOB_PROGRESS, db_i64s(job->id, id), job->owner, json, lease),
	    "storing progress");
	if (rc == 0)
		job_error(job, "lease lost: another worker owns the job now");
	return rc == 1 ? 0 : -1;
}

int
job_complete(struct job *job)
{
	char id[DB_I64_LEN];
	int rc;

	if (!job->db->in_tx) {
		job_error(job, "job_complete called outside a transaction");
		return -1;
	}
	/* The done mark checks lease_owner and state = 'running' and row-locks the job: a reaper running
	 * now waits for us, and if it got there first we change nothing and roll our effects back. */
	rc = lease_update(job, DB_EXEC(job->db, STMT_JOB_DONE, db_i64s(job->id, id), job->owner), "marking done");
	if (rc != 1) {
		if (rc == 0)
			job_error(job, "lease lost: another worker owns the job now; effects rolled back");
		db_rollback(job->db);
		return -1;
	}
	/* If the connection drops during COMMIT we cannot know whether it committed. That is still exactly
	 * once: committed means the job is done and the runner's fail mark will match no row; not committed
	 * means the job is still ours and will be retried. */
	if (db_commit(job->db) != 0) {
		job_error(job, "commit: %s", job->db->err);
		return -1;
	}
	job->completed = 1;
	return 0;
}

double
job_backoff_s(int attempt, double u)
{
	/* Retries of jobs that failed together (an upstream outage) spread out. */
	return tb_backoff_s(LIMIT_JOB_BACKOFF_BASE_S, LIMIT_JOB_BACKOFF_MAX_S, attempt, u);
}

static const char *const result_names[] = { "ok", "retry", "fatal", "pause", "defer" };

/* Write the handler's verdict into the job row, guarded by our lease, then log it. 0 on success
 * (including a lost lease: nothing to do then), -1 on a DB error (the lease then runs out and the job is
 * taken again). */
static int
record_outcome(struct job *job, enum job_result res, int64_t ms)
{
	char id[DB_I64_LEN], delay_s[32];
	const char *verdict;
	PGresult *r;
	double delay = 0;
	long n;

	if (job->completed) {
		log_info(job->ctx, "%s done in %" PRId64 " ms (attempt %d)", job->kind, ms, job->attempts);
		return 0;
	}
	if ((unsigned)res > JOB_DEFER) {
		job_error(job, "handler returned an unknown result %d", (int)res);
		res = JOB_FATAL;
	}
	if (res != JOB_OK && job->err[0] == '\0')
		job_error(job, "handler returned %s without saying why", result_names[res]);
	if (res == JOB_RETRY && job->attempts >= job->max_attempts)
		res = JOB_FATAL;  /* out of attempts: dead, the last error kept */
	db_i64s(job->id, id);
	switch (res) {
	case JOB_OK:
		verdict = "done";
		r = DB_EXEC(job->db, STMT_JOB_DONE, id, job->owner);
		break;
	case JOB_RETRY:
		verdict = "retry";
		delay = job->retry_after_s > 0 ? job->retry_after_s : job_backoff_s(job->attempts, crypto_rand01());
		snprintf(delay_s, sizeof(delay_s), "%.3f", delay);
		r = DB_EXEC(job->db, STMT_JOB_FAIL, id, job->owner, delay_s, job->err);
		break;
	case JOB_DEFER:
		verdict = "defer";
		delay = job->retry_after_s > 0 ? job->retry_after_s : job_backoff_s(1, crypto_rand01());
		snprintf(delay_s, sizeof(delay_s), "%.3f", delay);
		r = DB_EXEC(job->db, STMT_JOB_DEFER, id, job->owner, delay_s, job->err);
		break;
	case JOB_PAUSE:
		verdict = "pause";
		r = DB_EXEC(job->db, STMT_JOB_PAUSE, id, job->owner, job->err);
		break;
	case JOB_FATAL:
	default:
		verdict = "dead";
		r = DB_EXEC(job->db, STMT_JOB_DEAD, id, job->owner, job->err);
		break;
	}
	if (r == NULL) {
		log_error(job->ctx, "%s: recording the outcome (%s) failed: %s; the lease will run out and the job "
		    "be taken again", job->kind, verdict, job->db->err);
		return -1;
	}
	n = affected(r);
	PQclear(r);
	if (n != 1)
		log_warn(job->ctx, "%s: lease lost before the outcome (%s) was recorded, another worker has the job: "
		    "%s", job->kind, verdict, job->err[0] ? job->err : "no error");
	else if (res == JOB_OK)
		log_info(job->ctx, "%s done in %" PRId64 " ms (attempt %d)", job->kind, ms, job->attempts);
	else if (res == JOB_RETRY)
		log_warn(job->ctx, "%s attempt %d of %d failed, retry in %.1f s: %s", job->kind, job->attempts,
		    job->max_attempts, delay, job->err);
	else if (res == JOB_PAUSE)
		log_info(job->ctx, "%s paused: %s", job->kind, job->err);
	else if (res == JOB_DEFER)
		log_info(job->ctx, "%s deferred %.1f s: %s", job->kind, delay, job->err);
	else if (job->attempts >= job->max_attempts)
		log_warn(job->ctx, "%s dead after %d attempts: %s", job->kind, job->attempts, job->err);
	else
		log_warn(job->ctx, "%s dead (permanent error): %s", job->kind, job->err);
	return 0;
}

int
worker_run_one(struct db *db, const char *owner, int lease_s)
{
	const struct job_kind *k;
	struct job job;
	enum job_result res;
	json_error_t jerr;
	char lease[16];
	const char *payload;
	PGresult *r;
	int64_t t0;
	int rc;

	snprintf(lease, sizeof(lease), "%d", lease_s > 0 ? lease_s : LIMIT_JOB_LEASE_S);
	/* On failure the caller logs db->err, once per outage rather than once per try. */
	if ((r = DB_EXEC(db, STMT_JOB_CLAIM, owner, lease)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	memset(&job, 0, sizeof(job));
	job.db = db;
	job.owner = owner;
	job.id = db_i64(r, 0, 0);
	job.user_id = db_i64(r, 0, 3);
	job.attempts = (int)db_i64(r, 0, 4);
	job.max_attempts = (int)db_i64(r, 0, 5);
	job.lease_s = lease_s > 0 ? lease_s : LIMIT_JOB_LEASE_S;
	snprintf(job.ctx, sizeof(job.ctx), "job %" PRId64, job.id);
	job.kind = arena_strdup(&job.arena, db_str(r, 0, 1) ? db_str(r, 0, 1) : "");
	payload = db_str(r, 0, 2);
	job.payload = payload ? json_loads(payload, 0, &jerr) : NULL;
	PQclear(r);
	t0 = tb_mono_ms();

	if (job.kind == NULL) {
		job.kind = "?";
		job_error(&job, "out of memory");
		res = JOB_RETRY;
		goto record;
	}
	/* Unknown: retried with backoff, not dead at once, so that during a rolling upgrade a job of a new
	 * kind that an old worker claimed waits for a new worker. Dead after max_attempts like any other. */
	if ((k = job_kind_find(job.kind)) == NULL) {
		job_error(&job, "unknown job kind \"%s\"", job.kind);
		res = JOB_RETRY;
		goto record;
	}
	if (!json_is_object(job.payload)) {
		job_error(&job, "payload is not a JSON object");
		res = JOB_FATAL;
		goto record;
	}
	/* The claim used the default lease (the kind was not known yet); set the kind's own now, before any
	 * work, so a long job is never taken by a second worker while the first is still on it. */
	if (lease_s <= 0 && k->lease_s > 0 && k->lease_s != job.lease_s) {
		job.lease_s = k->lease_s;
		if (job_extend_lease(&job) != 0) {
			job.retry_after_s = 1;
			res = JOB_RETRY;
			goto record;
		}
	}
	log_debug(job.ctx, "%s: attempt %d of %d", job.kind, job.attempts, job.max_attempts);
	res = k->fn(&job);
	if (db->in_tx) {
		/* A handler must end its transaction (job_complete() does): never commit half of its work. */
		log_error(job.ctx, "%s returned with a transaction open: rolled back", job.kind);
		db_rollback(db);
		if (res == JOB_OK && !job.completed) {
			job_error(&job, "handler left its transaction open");
			res = JOB_RETRY;
		}
	}
record:
	rc = record_outcome(&job, res, tb_mono_ms() - t0) == 0 ? 1 : -1;
	json_decref(job.payload);
	arena_free(&job.arena);
	return rc;
}

int
worker_schedule_put(struct db *db, const char *name, const char *kind, const char *payload, int64_t user_id,
    const char *cron, char *err, size_t errsz)
{
	char uid[DB_I64_LEN], next[TB_RFC3339_SIZE];
	struct cron c;
	int64_t t;

	if (cron_parse(cron, &c, err, errsz) != 0)
		return -1;
	if ((t = cron_next(&c, (int64_t)time(NULL))) < 0) {
		snprintf(err, errsz, "cron: \"%s\" never matches", cron);
		return -1;
	}
	(void)tb_format_rfc3339(t, next);
	if (DB_RUN(db, STMT_SCHEDULE_UPSERT, name, kind, payload ? payload : "{}",
	        user_id > 0 ? db_i64s(user_id, uid) : NULL, cron, next) != 0) {
		snprintf(err, errsz, "schedule %s: %s", name, db->err);
		return -1;
	}
	return 0;
}

int
worker_fire_schedules(struct db *db)
{
	char err[256], next[TB_RFC3339_SIZE];
	const char *name, *cron;
	int n;
	double db_now, due;
	struct cron c;
	PGresult *r = NULL;
	int64_t job, t, base;

	if (db_begin(db) != 0)
		return -1;
	/* The due rows stay locked until COMMIT; another worker skips them (SKIP LOCKED) and, once we
	 * commit, no longer finds them due because next_run_at moved on in the same transaction. */
	if ((r = DB_EXEC0(db, STMT_SCHEDULE_CLAIM_DUE)) == NULL)
		goto fail;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		name = db_str(r, i, 1);
		cron = db_str(r, i, 5);
		db_now = strtod(db_str(r, i, 6), NULL);
		due = strtod(db_str(r, i, 7), NULL);
		/* Plan from whichever is later, the database's clock or the slot that fired, so the next slot is
		 * always a later one even when this host's clock is behind. Missed slots (no worker was up) fold
		 * into this one firing. */
		base = (int64_t)(db_now > due ? db_now : due);
		t = -1;
		if (cron_parse(cron, &c, err, sizeof(err)) == 0 && (t = cron_next(&c, base)) < 0)
			snprintf(err, sizeof(err), "it never matches");
		if (t < 0) {
			/* A bad row must not block the others nor fire every second: try again in a day. */
			log_error("worker", "schedule %s: bad cron \"%s\" (%s); not fired, looking again in a day",
			    name, cron, err);
			t = base + 86400;
			job = 0;
		} else {
			job = db_job_enqueue(db, db_str(r, i, 2), db_str(r, i, 3), db_i64(r, i, 4), NULL, 0);
			if (job < 0)
				goto fail;
		}
		(void)tb_format_rfc3339(t, next);
		if (DB_RUN(db, STMT_SCHEDULE_ADVANCE, db_str(r, i, 0), next) != 0)
			goto fail;
		if (job > 0)
			log_info("worker", "schedule %s fired: job %" PRId64 "; next run %s", name, job, next);
	}
	PQclear(r);
	r = NULL;
	if (db_commit(db) != 0)
		goto fail;
	return n;
fail:
	if (r != NULL)
		PQclear(r);
	db_rollback(db);
	return -1;
}
