/* job_toggl.c: the toggl.* job kinds: connect (verify a token the admin page stored), metadata, webhook
 * setup and removal, history import (with progress) and reconciliation. Each opens the user's Toggl
 * session, runs one operation of src/toggl/ and maps the outcome: transient (quota, 429, 5xx) -> retry
 * after the delay Toggl implies, and a quota or 429 wait is deferred (no attempt used up); a refused token ->
 * paused until the user sets a new one; a paid feature, a rejected request -> dead with the reason. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_client.h"
#include "db/db.h"
#include "toggl/toggl.h"
#include "util/log.h"
#include "util/tbtime.h"
#include "worker/worker.h"

enum op { OP_CONNECT, OP_METADATA, OP_SETUP, OP_REMOVE, OP_IMPORT, OP_RECONCILE };

/* A job waits inline only briefly; renewing the lease first keeps the job ours while it waits. */
static int
job_wait(void *arg, const char *why, double seconds)
{
	struct job *job = arg;

	log_info(job->ctx, "%s", why);
	return job_extend_lease(job) == 0 ? 0 : 1;
}

static void
job_import_progress(void *arg, const struct toggl_import_stats *st)
{
	struct job *job = arg;
	char text[512];
	double pct = st->hi > st->lo ? 100.0 * (double)(st->pos - st->lo) / (double)(st->hi - st->lo) : 0;

	snprintf(text, sizeof(text), "{\"run_id\": %" PRId64 ", \"method\": \"%s\", \"percent\": %.1f, "
	    "\"fetched\": %ld, \"inserted\": %ld, \"updated\": %ld, \"unchanged\": %ld, \"deleted\": %ld, "
	    "\"requests\": %ld, \"quota_waits\": %ld}", st->run_id, st->method ? st->method : "", pct, st->fetched,
	    st->inserted, st->updated, st->unchanged, st->deleted, st->requests, st->quota_waits);
	/* A lost lease shows at the next statement guarded by it; progress is informative. */
	if (job_progress(job, text) != 0)
		log_warn(job->ctx, "toggl.import: progress not stored: %s", job->err);
}

/* "YYYY-MM-DD" member to unix s at 00:00 UTC; def when absent. -1 when malformed. */
static int
payload_date(struct job *job, const char *key, int64_t def, int64_t *out)
{
	json_t *v = json_object_get(job->payload, key);
	int y, m, d;

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_string(v) || tb_parse_date(json_string_value(v), &y, &m, &d) != 0)
		return -1;
	*out = tb_days_from_civil(y, m, d) * 86400;
	return 0;
}

static enum job_result
run(struct job *job, enum op op)
{
	struct toggl_import_opts io;
	struct toggl_import_stats st;
	struct http_client *http = NULL;
	struct toggl_sync s;
	enum toggl_rc rc;
	enum job_result res;
	json_t *wid_v = json_object_get(job->payload, "workspace_id"), *out = NULL;
	int64_t today = tb_now_ms() / 1000 / 86400 * 86400;
	int opened = 0;

	memset(&s, 0, sizeof(s));
	if (job->user_id <= 0) {
		job_error(job, "%s: the job has no user", job->kind);
		return JOB_FATAL;
	}
	if ((op == OP_SETUP || op == OP_REMOVE) && !(json_is_integer(wid_v) && json_integer_value(wid_v) > 0)) {
		job_error(job, "%s: payload needs {\"workspace_id\": N}", job->kind);
		return JOB_FATAL;
	}
	memset(&io, 0, sizeof(io));
	if (op == OP_IMPORT) {
		if (payload_date(job, "since", -1, &io.since_s) != 0 || io.since_s < 0 ||
		    payload_date(job, "until", today, &io.until_s) != 0) {
			job_error(job, "toggl.import: payload needs {\"since\": \"YYYY-MM-DD\"[, \"until\": \"YYYY-MM-DD\"]}");
			return JOB_FATAL;
		}
		io.until_s += 86400;   /* until is the last day, inclusive */
		io.restart = json_is_true(json_object_get(job->payload, "restart"));
	}
	if ((http = http_client_new()) == NULL) {
		job_error(job, "%s: no HTTP client", job->kind);
		return JOB_RETRY;
	}
	rc = toggl_sync_open(&s, job->db, http, job->user_id, job->ctx, LIMIT_TOGGL_JOB_WAIT_S);
	opened = 1;
	if (rc != TOGGL_OK)
		goto map;
	s.job_id = job->id;
	s.on_wait = job_wait;
	s.progress = job_import_progress;
	s.hook_arg = job;
	switch (op) {
	case OP_CONNECT:
		rc = toggl_connect(&s, 0);
		break;
	case OP_METADATA:
		rc = toggl_metadata_refresh(&s);
		break;
	case OP_SETUP:
		rc = toggl_webhook_setup(&s, (int64_t)json_integer_value(wid_v), &out);
		break;
	case OP_REMOVE:
		rc = toggl_webhook_remove(&s, (int64_t)json_integer_value(wid_v));
		/* Already gone is what was asked for. */
		if (rc == TOGGL_NOTFOUND)
			rc = TOGGL_OK;
		break;
	case OP_IMPORT:
		rc = toggl_import(&s, &io, &st);
		break;
	case OP_RECONCILE:
		rc = toggl_reconcile(&s, &st);
		break;
	}
map:
	switch (rc) {
	case TOGGL_OK:
		res = JOB_OK;
		if (s.err[0])
			log_warn(job->ctx, "%s: %s", job->kind, s.err);
		break;
	case TOGGL_RETRY:
		job_error(job, "%s", s.err);
		job->retry_after_s = s.retry_after_s;
		/* Waiting for a quota reset or a 429 backoff is not a failed attempt. */
		res = s.quota_wait && s.retry_after_s > 0 ? JOB_DEFER : JOB_RETRY;
		break;
	case TOGGL_CONFLICT:
		job_error(job, "%s", s.err);
		/* Another importer holds the user: try again later rather than die. */
		if (op == OP_IMPORT && s.retry_after_s > 0) {
			job->retry_after_s = s.retry_after_s;
			res = JOB_RETRY;
		} else
			res = JOB_FATAL;
		break;
	case TOGGL_AUTH:
		/* The user must set a new token; toggl_connect_enqueue() resumes the paused jobs. */
		job_error(job, "%s", s.err);
		res = JOB_PAUSE;
		break;
	default:
		job_error(job, "%s", s.err);
		res = JOB_FATAL;
		break;
	}
	json_decref(out);
	if (opened)
		toggl_sync_close(&s);
	http_client_free(http);
	return res;
}

enum job_result
job_toggl_connect(struct job *job)
{
	return run(job, OP_CONNECT);
}

enum job_result
job_toggl_metadata(struct job *job)
{
	return run(job, OP_METADATA);
}

enum job_result
job_toggl_webhook_setup(struct job *job)
{
	return run(job, OP_SETUP);
}

enum job_result
job_toggl_webhook_remove(struct job *job)
{
	return run(job, OP_REMOVE);
}

enum job_result
job_toggl_import(struct job *job)
{
	return run(job, OP_IMPORT);
}

enum job_result
job_toggl_reconcile(struct job *job)
{
	return run(job, OP_RECONCILE);
}
