/* job_google.c: the google.* job kinds, thin over src/gcal/: read the payload, run the operation, and map
 * its outcome onto the runner's (an operation that leaves its effects in an open transaction commits them
 * here with the done mark). The one keep-alive HTTP client of this worker process lives here. */
#include "config.h"

#include <string.h>

#include "api/http_client.h"
#include "gcal/gcal.h"
#include "util/log.h"
#include "worker/worker.h"

/* The worker runs one job at a time per process: one client, its connections kept alive between jobs
 * (every sync then costs one request on an open connection, no handshake). */
static struct http_client *google_http;

static struct http_client *
http(void)
{
	if (google_http == NULL)
		google_http = http_client_new();
	return google_http;
}

static int
start(struct job *job, struct gcal *g)
{
	struct http_client *h = http();

	if (h == NULL) {
		job_error(job, "no HTTP client (out of memory?)");
		return -1;
	}
	gcal_init(g, job->db, h, job->ctx, job->user_id);
	g->job_id = job->id;
	g->owner = job->owner;
	g->attempt = job->attempts;
	return 0;
}

static enum job_result
finish(struct job *job, struct gcal *g, enum gcal_result res)
{
	enum job_result out = JOB_RETRY;

	switch (res) {
	case GCAL_OK:
		out = JOB_OK;
		if (g->completed)
			job->completed = 1;   /* the sync's one statement carried the lease-guarded done mark */
		else if (job->db->in_tx && job_complete(job) != 0)
			out = JOB_RETRY;      /* job_complete() said why in job->err */
		break;
	case GCAL_RETRY:
		out = JOB_RETRY;
		break;
	case GCAL_FATAL:
		out = JOB_FATAL;
		break;
	case GCAL_PAUSE:
		out = JOB_PAUSE;
		break;
	}
	if (job->db->in_tx)
		db_rollback(job->db);
	if (out != JOB_OK && job->err[0] == '\0')
		job_error(job, "%s", g->err[0] ? g->err : "google: failed without saying why");
	/* An attempt given back in the database must not make the runner call the job dead on what it still
	 * counts as the last attempt. */
	if (g->uncounted && job->attempts >= job->max_attempts)
		job->attempts = job->max_attempts - 1;
	if (out == JOB_RETRY)
		job->retry_after_s = g->retry_after_s;
	gcal_done(g);
	return out;
}

static int64_t
payload_int(struct job *job, const char *key)
{
	json_t *v = json_object_get(job->payload, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int
payload_bool(struct job *job, const char *key)
{
	return json_is_true(json_object_get(job->payload, key));
}

static int
needs_user(struct job *job)
{
	if (job->user_id > 0)
		return 0;
	job_error(job, "%s: the job has no user", job->kind);
	return -1;
}

enum job_result
job_google_sync_entry(struct job *job)
{
	int64_t entry = payload_int(job, "entry_id");
	struct gcal g;

	if (needs_user(job) != 0)
		return JOB_FATAL;
	if (entry <= 0) {
		job_error(job, "payload: entry_id must be a positive integer");
		return JOB_FATAL;
	}
	if (start(job, &g) != 0)
		return JOB_RETRY;
	return finish(job, &g, gcal_sync_entry(&g, entry, payload_bool(job, "force")));
}

enum job_result
job_google_calendar(struct job *job)
{
	json_t *gone = json_object_get(job->payload, "gone");
	struct gcal g;

	if (needs_user(job) != 0)
		return JOB_FATAL;
	if (start(job, &g) != 0)
		return JOB_RETRY;
	return finish(job, &g, gcal_calendar_ensure(&g, json_is_string(gone) ? json_string_value(gone) : NULL));
}

enum job_result
job_google_backfill(struct job *job)
{
	struct gcal g;
	long queued;

	if (needs_user(job) != 0)
		return JOB_FATAL;
	if (start(job, &g) != 0)
		return JOB_RETRY;
	return finish(job, &g, gcal_backfill(&g, (int)payload_int(job, "days"), payload_bool(job, "force"), &queued));
}

enum job_result
job_google_validate(struct job *job)
{
	struct gcal g;
	int n;

	if (job->user_id <= 0) {
		if ((n = gcal_validate_fanout(job->db)) < 0) {
			job_error(job, "queueing validations: %s", job->db->err);
			return JOB_RETRY;
		}
		if (n > 0)
			log_info(job->ctx, "google.validate: %d validations queued", n);
		return JOB_OK;
	}
	if (start(job, &g) != 0)
		return JOB_RETRY;
	return finish(job, &g, gcal_validate_user(&g));
}

enum job_result
job_google_refresh_running(struct job *job)
{
	int n;

	if ((n = gcal_refresh_running(job->db)) < 0) {
		job_error(job, "queueing running-entry refreshes: %s", job->db->err);
		return JOB_RETRY;
	}
	if (n > 0)
		log_info(job->ctx, "google.refresh_running: %d running entries to extend", n);
	return JOB_OK;
}

enum job_result
job_google_revoke(struct job *job)
{
	struct gcal g;

	if (needs_user(job) != 0)
		return JOB_FATAL;
	if (start(job, &g) != 0)
		return JOB_RETRY;
	return finish(job, &g, gcal_revoke(&g));
}
