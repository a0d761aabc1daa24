/* worker_main.c: timebridge-worker: ordered start-up, then one event loop. Each turn polls the LISTEN
 * connection and a signalfd with a timeout (the short timer, or the next due job or schedule), drains the
 * notifications, runs every due job, and does the maintenance: reap expired leases, fire due schedules.
 * A lost database connection is retried with backoff, never fatal; SIGTERM finishes the job in flight. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/tbtime.h"
#include "worker/worker.h"

#define PROG "timebridge-worker"
#define OWNER_MAX 128
#define CONTENDED_WAIT_MS 50   /* a due job another worker is claiming right now: look again soon */
#define DB_DOWN_LOG_MS 30000   /* while the database stays unreachable, say so this often */

/* Built-in schedules, registered (idempotently) by every worker at start. */
static const struct {
	const char *name, *kind, *payload, *cron;
} builtin_schedules[] = {
	{ "maintenance.purge", "maintenance.purge", "{}", "17 3 * * *" },
};

struct worker {
	struct db   db;              /* jobs, schedules, maintenance; reconnects by itself between statements */
	struct db   listen;          /* LISTEN tb_jobs only: polled, never used while a job runs */
	int         listening;       /* LISTEN is active on listen.conn */
	int         listen_lost;     /* it was, and the connection dropped: say when it is back */
	int         sigfd;
	char        owner[OWNER_MAX];
	int         lease_s;         /* > 0: TIMEBRIDGE_JOB_LEASE_S overrides every kind's lease */
	int         once;
	int         stop;            /* SIGTERM/SIGINT seen: finish the job in flight, then leave */
	int         registered;      /* the built-in schedules are in the database */
	int         db_down;         /* the last database round failed */
	int         db_backoff_ms;
	int64_t     db_retry_at;     /* monotonic ms: no database work before this */
	int64_t     db_logged_at;    /* when the outage was last logged */
	int         listen_backoff_ms;
	int64_t     listen_retry_at;
	int         more;            /* this round left work due now (a full batch, reaped or fired jobs) */
	int64_t     next_wake;       /* monotonic ms: the next due job (or the short timer) */
	int64_t     next_schedule;   /* monotonic ms: the next due schedule (or the short timer) */
	int64_t     next_maint;
	int         maint_ms;
};

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [--config FILE] [--id NAME] [--once]\n"
	    "Runs the jobs of the timebridge queue: wakes on NOTIFY tb_jobs and every %d ms, retries with\n"
	    "backoff, fires the cron schedules, and stops after the job in flight on SIGTERM or SIGINT.\n"
	    "  --config FILE  read KEY=VALUE settings from FILE (the environment wins)\n"
	    "  --id NAME      lease owner name (default host:pid); must be unique among running workers\n"
	    "  --once         reap, fire due schedules, run every due job, then exit (0, or 1 on a database error)\n"
	    "  --help         this text\n"
	    "Worker settings (environment only):\n"
	    "  TIMEBRIDGE_JOB_LEASE_S        lease of every job in seconds, 1..86400, overriding each kind's\n"
	    "                                (default: per kind, %d); short leases are for tests\n"
	    "Exit status: 0 stopped cleanly, 1 runtime error, 2 bad usage or configuration.\n\n%s",
	    LIMIT_WORKER_POLL_MS, LIMIT_JOB_LEASE_S, config_help);
	fprintf(f, "Job kinds:");
	for (size_t i = 0; i < job_kind_count(); i++)
		fprintf(f, " %s", job_kind_at(i)->kind);
	fprintf(f, "\n");
}

/* Drain the signalfd (non-blocking). */
static void
read_signals(struct worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!w->stop)
				log_info("worker", "%s: stopping after the job in flight",
				    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			w->stop = 1;
			break;
		case SIGHUP:
			log_info("worker", "SIGHUP ignored: restart the worker to reload its configuration");
			break;
		default:
			break;
		}
	}
}

static void
db_failed(struct worker *w)
{
	int64_t now = tb_mono_ms();

	w->db_backoff_ms = w->db_down ? w->db_backoff_ms * 2 : WORKER_RECONNECT_MIN_MS;
	if (w->db_backoff_ms > WORKER_RECONNECT_MAX_MS)
		w->db_backoff_ms = WORKER_RECONNECT_MAX_MS;
	if (!w->db_down || now - w->db_logged_at >= DB_DOWN_LOG_MS) {
		log_warn("worker", "database error (%s); retrying in %d ms, backing off to %d ms", w->db.err,
		    w->db_backoff_ms, WORKER_RECONNECT_MAX_MS);
		w->db_logged_at = now;
	}
	w->db_down = 1;
	w->db_retry_at = now + w->db_backoff_ms;
	w->next_wake = w->db_retry_at;
}

static void
db_worked(struct worker *w)
{
	if (w->db_down)
		log_info("worker", "database working again");
	w->db_down = 0;
	w->db_backoff_ms = 0;
}

/* (Re)connect the LISTEN connection and LISTEN. Notifications sent while it was down are lost, so the
 * caller looks for due work right after. */
static void
listen_connect(struct worker *w)
{
	if (db_ensure(&w->listen) == 0 && DB_RUN0(&w->listen, STMT_JOB_LISTEN) == 0) {
		if (w->listen_lost)
			log_info("worker", "listening on tb_jobs again");
		w->listen_lost = 0;
		w->listening = 1;
		w->listen_backoff_ms = 0;
		w->next_wake = tb_mono_ms();
		return;
	}
	w->listening = 0;
	w->listen_backoff_ms = w->listen_backoff_ms ? w->listen_backoff_ms * 2 : WORKER_RECONNECT_MIN_MS;
	if (w->listen_backoff_ms > WORKER_RECONNECT_MAX_MS)
		w->listen_backoff_ms = WORKER_RECONNECT_MAX_MS;
	log_debug("worker", "LISTEN failed (%s); retrying in %d ms", w->listen.err, w->listen_backoff_ms);
	w->listen_retry_at = tb_mono_ms() + w->listen_backoff_ms;
}

/* Read what arrived on the LISTEN connection. Returns the number of notifications (any means: work). */
static int
drain_notifies(struct worker *w)
{
	PGnotify *n;
	int count = 0;

	if (!PQconsumeInput(w->listen.conn) || PQstatus(w->listen.conn) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(w->listen.conn);
		log_warn("worker", "LISTEN connection lost: %.*s", (int)strcspn(msg, "\n"), msg);
		w->listen_lost = 1;
		w->listening = 0;
		w->listen_backoff_ms = 0;
		w->listen_retry_at = tb_mono_ms();
		return 0;
	}
	while ((n = PQnotifies(w->listen.conn)) != NULL) {
		count++;
		PQfreemem(n);
	}
	if (count > 0)
		w->next_wake = tb_mono_ms();
	return count;
}

/* Claim and run due jobs back to back until none is due, a signal arrives, or the batch is full (then
 * come back right after looking at signals and notifications). 0, or -1 on a database error. */
static int
run_due(struct worker *w, int unlimited)
{
	int rc;

	for (int n = 0; unlimited || n < WORKER_BATCH_MAX; n++) {
		read_signals(w);
		if (w->stop)
			return 0;
		if ((rc = worker_run_one(&w->db, w->owner, w->lease_s)) < 0)
			return -1;
		if (rc == 0)
			return 0;
	}
	w->more = 1;
	return 0;
}

/* Take back jobs whose worker died mid-job (their lease ran out). 0, or -1 on a database error. */
static int
reap(struct worker *w)
{
	PGresult *r;
	int n;

	if ((r = DB_EXEC0(&w->db, STMT_JOB_REAP)) == NULL)
		return -1;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		log_warn("worker", "job %s: lease expired (its worker stopped mid-job); due again",
		    PQgetvalue(r, i, 0));
	PQclear(r);
	if (n > 0)
		w->more = 1;
	return 0;
}

static int
register_schedules(struct worker *w)
{
	char err[256];

	for (size_t i = 0; i < sizeof(builtin_schedules) / sizeof(builtin_schedules[0]); i++)
		if (worker_schedule_put(&w->db, builtin_schedules[i].name, builtin_schedules[i].kind,
		        builtin_schedules[i].payload, 0, builtin_schedules[i].cron, err, sizeof(err)) != 0) {
			log_warn("worker", "registering schedule %s: %s", builtin_schedules[i].name, err);
			return -1;
		}
	w->registered = 1;
	return 0;
}

static int
fire_schedules(struct worker *w)
{
	int n;

	/* Each round fires at most one batch (the claim's LIMIT); loop until nothing is due. */
	while ((n = worker_fire_schedules(&w->db)) > 0)
		w->more = 1;
	return n < 0 ? -1 : 0;
}

/* Ask the database when the next job and the next schedule are due, to sleep exactly until then (but
 * never longer than the short timer, which covers lost notifications and rows added by others). */
static int
plan_next_wake(struct worker *w)
{
	int64_t now = tb_mono_ms(), ms;
	PGresult *r;

	if ((r = DB_EXEC0(&w->db, STMT_JOB_NEXT_DUE)) == NULL)
		return -1;
	ms = db_isnull(r, 0, 0) ? LIMIT_WORKER_POLL_MS : db_i64(r, 0, 0);
	PQclear(r);
	/* <= 0: due, yet run_due() found nothing to claim: another worker holds it locked this instant. */
	if (w->more)
		w->next_wake = now;
	else
		w->next_wake = now + (ms > 0 ? min64(ms, LIMIT_WORKER_POLL_MS) : CONTENDED_WAIT_MS);
	if ((r = DB_EXEC0(&w->db, STMT_SCHEDULE_NEXT_DUE)) == NULL)
		return -1;
	ms = db_isnull(r, 0, 0) ? LIMIT_WORKER_POLL_MS : db_i64(r, 0, 0);
	PQclear(r);
	w->next_schedule = now + (ms > 0 ? min64(ms, LIMIT_WORKER_POLL_MS) : CONTENDED_WAIT_MS);
	return 0;
}

/* One round of database work: jobs, then maintenance when due. 0, or -1 on a database error. */
static int
do_work(struct worker *w)
{
	int64_t now = tb_mono_ms();

	w->more = 0;
	if (run_due(w, w->once) != 0)
		return -1;
	if (w->stop)
		return 0;
	if (now >= w->next_maint || w->once) {
		if (reap(w) != 0 || (!w->registered && register_schedules(w) != 0))
			return -1;
		w->next_maint = now + w->maint_ms;
	}
	if (now >= w->next_schedule || w->once) {
		if (fire_schedules(w) != 0)
			return -1;
	}
	/* Reaping or firing may have made work due; in --once mode run it before leaving. */
	if (w->once)
		return run_due(w, 1);
	return plan_next_wake(w);
}

/* poll → signals → notifications → due jobs → maintenance (pgbouncer's main_loop_once, testlibpq2's
 * LISTEN loop). */
static void
loop_once(struct worker *w)
{
	struct pollfd pfd[2];
	int64_t now = tb_mono_ms(), deadline;
	int timeout;

	deadline = min64(w->next_wake, min64(w->next_schedule, w->next_maint));
	if (w->db_down)
		deadline = w->db_retry_at;
	if (!w->listening)
		deadline = min64(deadline, w->listen_retry_at);
	timeout = (int)(deadline <= now ? 0 : min64(deadline - now, LIMIT_WORKER_POLL_MS));

	pfd[0].fd = w->sigfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = w->listening ? PQsocket(w->listen.conn) : -1;   /* poll ignores a negative fd */
	pfd[1].events = POLLIN;
	pfd[0].revents = pfd[1].revents = 0;
	if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
		log_error("worker", "poll: %s", strerror(errno));
		sleep(1);
		return;
	}
	if (pfd[0].revents)
		read_signals(w);
	if (w->listening && pfd[1].revents)
		(void)drain_notifies(w);
	if (w->stop)
		return;
	now = tb_mono_ms();
	if (!w->listening && now >= w->listen_retry_at)
		listen_connect(w);
	if (w->db_down && now < w->db_retry_at)
		return;
	if (!w->db_down && now < w->next_wake && now < w->next_schedule && now < w->next_maint)
		return;
	if (do_work(w) != 0)
		db_failed(w);
	else
		db_worked(w);
}

static int
parse_lease_env(int *out, char *err, size_t errsz)
{
	const char *v = getenv("TIMEBRIDGE_JOB_LEASE_S");
	char *end;
	long n;

	*out = 0;
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < 1 || n > 86400) {
		snprintf(err, errsz, "TIMEBRIDGE_JOB_LEASE_S: must be a number of seconds from 1 to 86400: \"%s\"", v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int
valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return 0;
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_file = NULL, *id = NULL;
	const struct config *cfg;
	struct worker w;
	char err[512], host[64];
	sigset_t mask;
	int ch, rc = 1;

	memset(&w, 0, sizeof(w));
	w.sigfd = -1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_file = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case '1':
			w.once = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (id != NULL && !valid_id(id)) {
		fprintf(stderr, PROG ": --id: 1 to 64 printable characters without spaces\n");
		return 2;
	}

	/* Start-up, order important: refuse root, configuration (secrets read and wiped), logging, signals
	 * (blocked before any work so none is lost), then the database. */
	if (geteuid() == 0) {
		fprintf(stderr, PROG ": refusing to run as root; run it as an unprivileged user "
		    "(e.g. setpriv --reuid=timebridge --regid=timebridge --init-groups " PROG ")\n");
		return 2;
	}
	if (config_load(config_file, CONFIG_NEED_SECRET, err, sizeof(err)) != 0 ||
	    parse_lease_env(&w.lease_s, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	cfg = config_get();
	log_init(PROG, cfg->log_level);

	if (id != NULL)
		snprintf(w.owner, sizeof(w.owner), "%s", id);
	else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(w.owner, sizeof(w.owner), "%s:%ld", host, (long)getpid());
	}
	/* Reap often enough that a short test lease is taken back promptly. */
	w.maint_ms = WORKER_MAINTENANCE_MS;
	if (w.lease_s > 0 && w.lease_s * 1000 / 2 < w.maint_ms)
		w.maint_ms = w.lease_s * 1000 / 2 > 100 ? w.lease_s * 1000 / 2 : 100;

	/* Signals arrive through the signalfd, read in the loop: a handler interrupts nothing, and a job in
	 * flight always runs to its end. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 ||
	    (w.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		log_error("worker", "signalfd: %s", strerror(errno));
		goto out;
	}

	/* A database that is not up yet is not fatal: the loop retries with backoff. */
	if (db_open(&w.db, cfg->database, PROG, WORKER_STATEMENT_MS) != 0)
		log_warn("worker", "database not reachable yet (%s); will retry", w.db.err);
	if (!w.once) {
		if (db_open(&w.listen, cfg->database, PROG " listen", 0) == 0)
			listen_connect(&w);
		else {
			w.listen_retry_at = tb_mono_ms() + WORKER_RECONNECT_MIN_MS;
			w.listen_backoff_ms = WORKER_RECONNECT_MIN_MS;
		}
	}
	log_info("worker", "started as %s (lease %s%d s, poll %d ms)%s", w.owner, w.lease_s ? "" : "default ",
	    w.lease_s ? w.lease_s : LIMIT_JOB_LEASE_S, LIMIT_WORKER_POLL_MS, w.once ? ", once" : "");

	if (w.once) {
		rc = do_work(&w) == 0 ? 0 : 1;
		if (rc != 0)
			log_error("worker", "database error: %s", w.db.err);
		goto out;
	}
	while (!w.stop)
		loop_once(&w);
	log_info("worker", "stopped");
	rc = 0;
out:
	db_close(&w.listen);
	db_close(&w.db);
	if (w.sigfd >= 0)
		close(w.sigfd);
	crypto_shutdown();
	return rc;
}
