/* worker.h: the job worker: job states, the handler contract, the dispatch-table helpers, the cron parser.
 * Adding a job kind is one row in job_kinds[] (jobs.c) plus its prototype below, under its file's section. */
#ifndef TB_WORKER_H
#define TB_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db/db.h"
#include "util/buf.h"
#include "util/limits.h"

/* Worker tuning that is not a user-facing limit. Candidates for util/limits.h. */
#define WORKER_MAINTENANCE_MS     5000            /* reap expired leases at least this often */
#define WORKER_RECONNECT_MIN_MS   100             /* first reconnect delay after a lost connection */
#define WORKER_RECONNECT_MAX_MS   2000            /* the delay doubles up to this: a restart is seconds */
#define WORKER_BATCH_MAX          64              /* jobs run back to back before looking at signals
                                                   * and notifications again */
#define WORKER_STATEMENT_MS       300000          /* statement_timeout of the worker's connection */
#define WORKER_DONE_RETENTION_S   (7 * 86400)     /* maintenance.purge: done jobs kept this long */
#define WORKER_SESSION_IDLE_S     (30 * 86400)    /* maintenance.purge: sessions idle this long go (the
                                                   * web side enforces its own, shorter, idle limit) */

/* The life of a job, mirroring the job_state type of sql/001_core.sql. Each state is a queue: */
enum job_state {
	JOB_QUEUED = 0,  /* due at run_after; taken by STMT_JOB_CLAIM (FOR UPDATE SKIP LOCKED) */
	JOB_RUNNING,     /* leased to lease_owner until lease_expires_at; STMT_JOB_REAP takes back expired ones */
	JOB_FAILED,      /* a retry due at run_after (backoff); claimed like queued */
	JOB_DEAD,        /* out of attempts or a permanent error; only `timebridge jobs retry` revives it */
	JOB_DONE,        /* finished; purged after WORKER_DONE_RETENTION_S */
	JOB_PAUSED       /* waits for an outside fix (e.g. a Google reconnect); STMT_JOB_RESUME_USER wakes it */
};

/* What a handler tells the runner. */
enum job_result {
	JOB_OK = 0,      /* done (the runner marks it, unless job_complete() already did) */
	JOB_RETRY,       /* transient: retry after the backoff, or job->retry_after_s when > 0 */
	JOB_FATAL,       /* permanent: dead now, job->err kept */
	JOB_PAUSE,       /* wait for an outside fix; the attempt is not counted */
	JOB_DEFER        /* wait job->retry_after_s (a quota reset, a per-user backoff); the attempt is not
	                  * counted, because nothing failed: the upstream asked us to come back later */
};

/* One claimed job, handed to its handler. Everything the handler allocates for it can go in arena, which
 * the runner frees after the job. payload is owned by the runner (json_decref after the job). */
struct job {
	int64_t       id;
	const char   *kind;
	json_t       *payload;        /* the payload object; never NULL (an empty object at worst) */
	int64_t       user_id;        /* 0 when none */
	int           attempts;       /* this run included: 1 on the first run */
	int           max_attempts;
	struct db    *db;             /* the worker's connection, outside any transaction on entry */
	struct arena  arena;
	const char   *owner;          /* lease owner, e.g. "host:1234" */
	int           lease_s;        /* lease length; job_progress() and job_extend_lease() renew it */
	int           completed;      /* set by job_complete() once the done mark is committed */
	char          ctx[40];        /* "job 42" for log lines */
	char          err[LIMIT_JOB_ERROR_MAX]; /* last error, set with job_error(); kept in jobs.last_error */
	double        retry_after_s;  /* > 0 overrides the backoff of JOB_RETRY, e.g. a quota reset */
};

typedef enum job_result (*job_fn)(struct job *);

struct job_kind {
	const char *kind;     /* "feature.verb", e.g. "google.push" */
	job_fn      fn;
	int         lease_s;  /* 0: LIMIT_JOB_LEASE_S. Long jobs renew it with job_progress()/job_extend_lease() */
};

/* jobs.c */
/* The row of job_kinds[] for kind, or NULL when no handler knows it. */
const struct job_kind *job_kind_find(const char *kind);
/* Number of rows of the table and row i, for tests and `--help`. */
size_t job_kind_count(void);
const struct job_kind *job_kind_at(size_t i);

/* Record why the job failed (kept in jobs.last_error, truncated to valid UTF-8); the runner logs it. */
void job_error(struct job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Store progress (JSON object text) and renew the lease. 0 on success, -1 when the lease is lost (another
 * worker owns the job now: stop working on it and return JOB_RETRY) or on a DB error. Outside a transaction. */
int  job_progress(struct job *job, const char *json) __attribute__((warn_unused_result));
/* Renew the lease for another job->lease_s seconds. Same return convention as job_progress(). */
int  job_extend_lease(struct job *job) __attribute__((warn_unused_result));
/* For handlers whose DB effects and the done mark must commit together: call inside the handler's own
 * transaction (db_begin() done, effects written). Marks the job done if we still hold its lease, then
 * commits. 0: committed, the job is done (return JOB_OK). -1: rolled back, job->err says why (the lease
 * was lost to another worker, or a DB error): return JOB_RETRY. Either way the transaction is over. */
int  job_complete(struct job *job) __attribute__((warn_unused_result));

/* Retry delay after attempt number `attempt` (1 = first run failed): LIMIT_JOB_BACKOFF_BASE_S doubling per
 * attempt, capped at LIMIT_JOB_BACKOFF_MAX_S, with full jitter: u in [0, 1) picks from [d/2, d). */
double job_backoff_s(int attempt, double u);

/* Claim one due job as owner and run it to its final state. lease_s > 0 overrides every kind's lease
 * (tests). Returns 1 when a job ran (whatever its result), 0 when none was due, -1 on a DB error. */
int  worker_run_one(struct db *db, const char *owner, int lease_s) __attribute__((warn_unused_result));

/* Create or update schedule name (cron: five fields, UTC). The next run is computed from the cron
 * expression; an unchanged cron keeps the next run already planned. 0 on success, -1 with err set. */
int  worker_schedule_put(struct db *db, const char *name, const char *kind, const char *payload,
         int64_t user_id, const char *cron, char *err, size_t errsz) __attribute__((warn_unused_result));
/* Fire every due schedule once across all workers: in one transaction, lock the due rows (SKIP LOCKED),
 * enqueue their jobs and move next_run_at on. Returns the number fired, or -1 on a DB error. */
int  worker_fire_schedules(struct db *db) __attribute__((warn_unused_result));

/* cron.c: five-field cron expressions (minute hour day-of-month month day-of-week) in UTC, Vixie-cron
 * semantics: `*`, lists, ranges, steps (`1-10/2`, `*` with `/5`, `5/15` = 5-max/15), month and weekday names,
 * 7 = Sunday, and the @hourly @daily @midnight @weekly @monthly @yearly @annually shorthands. When both
 * day fields are restricted (neither starts with `*`), a day matches if either does. */
struct cron {
	uint64_t minute;   /* bit m: minute m, 0..59 */
	uint32_t hour;     /* bit h: 0..23 */
	uint32_t dom;      /* bit d: day of month 1..31 */
	uint16_t month;    /* bit m: 1..12 */
	uint8_t  dow;      /* bit d: 0..6, Sunday = 0 */
	uint8_t  dom_star; /* the day-of-month field started with `*` */
	uint8_t  dow_star; /* the day-of-week field started with `*` */
};

/* Parse expr into out. 0 on success; -1 with one line in err naming the field and the problem. */
int     cron_parse(const char *expr, struct cron *out, char *err, size_t errsz) __attribute__((warn_unused_result));
/* The first minute strictly after after_epoch_s that matches, in seconds since the epoch (UTC); -1 when
 * none in the next ten years (cannot happen for an expression cron_parse accepted). */
int64_t cron_next(const struct cron *c, int64_t after_epoch_s);

/* job_diag.c: diagnostic and housekeeping kinds. */
enum job_result job_diag_sleep(struct job *job);
enum job_result job_maintenance_purge(struct job *job);

/* job_toggl.c: Toggl in (src/toggl/). Payloads: connect, metadata, reconcile {}; webhook_setup and
 * webhook_remove {"workspace_id": N}; import {"since": "YYYY-MM-DD", "until"?: "YYYY-MM-DD", "restart"?: bool}. */
enum job_result job_toggl_connect(struct job *job);
enum job_result job_toggl_metadata(struct job *job);
enum job_result job_toggl_webhook_setup(struct job *job);
enum job_result job_toggl_webhook_remove(struct job *job);
enum job_result job_toggl_import(struct job *job);
enum job_result job_toggl_reconcile(struct job *job);

/* job_google.c: Google Calendar out (src/gcal/); payloads and rules in gcal/gcal.h. */
enum job_result job_google_calendar(struct job *job);        /* {"gone"?: calendar id} */
enum job_result job_google_sync_entry(struct job *job);      /* {"entry_id", "version", "force"?} */
enum job_result job_google_backfill(struct job *job);        /* {"days"?, "force"?} */
enum job_result job_google_validate(struct job *job);        /* no user: fan out; a user: compare */
enum job_result job_google_refresh_running(struct job *job); /* scheduled: extend running entries' events */
enum job_result job_google_revoke(struct job *job);          /* disconnect: revoke, then forget */

#endif
