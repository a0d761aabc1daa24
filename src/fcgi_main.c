/* fcgi_main.c: timebridge-fcgi, the FastCGI responder. A pool of threads, each with its own PostgreSQL
 * connection, takes requests from one listening socket; every request is read, dispatched through the
 * route table, answered, logged and freed. SIGTERM stops accepting and lets requests in flight finish. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "db/db.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/templates.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"

#define POLL_MS 250   /* how often an idle thread looks at the stop flag */

struct worker {
	pthread_t   th;
	int         n;
	struct db   db;
	atomic_int  done;
};

static int listen_fd;
static atomic_int stopping;
static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum http_method
parse_method(const char *m)
{
	static const struct { const char *name; enum http_method m; } ms[] = {
		{ "GET", METHOD_GET }, { "HEAD", METHOD_HEAD }, { "POST", METHOD_POST }, { "PUT", METHOD_PUT },
		{ "PATCH", METHOD_PATCH }, { "DELETE", METHOD_DELETE }, { "OPTIONS", METHOD_OPTIONS },
	};
	for (size_t i = 0; m && i < sizeof(ms) / sizeof(ms[0]); i++)
		if (strcmp(m, ms[i].name) == 0)
			return ms[i].m;
	return METHOD_OTHER;
}

/* Read the body, bounded by LIMIT_BODY_MAX. 0 ok; otherwise the error status already answered. */
static int
read_body(struct req *r)
{
	const char *cl = req_param(r, "CONTENT_LENGTH");
	char *end, sink[4096];
	long long n = 0;
	int got;

	if (cl == NULL || *cl == '\0')
		return 0;
	errno = 0;
	n = strtoll(cl, &end, 10);
	if (errno || *end || n < 0) {
		resp_error(r, 400, "Malformed Content-Length.");
		return 400;
	}
	if (n > LIMIT_BODY_MAX) {
		/* Drain what the web server already buffered so the connection stays in step. The router answers
		 * 413 once it knows the route: after a 404 or 405, and after the handler's own checks for
		 * R_LATE_413 routes (an unknown webhook token is a 404 whatever its size). */
		while (FCGX_GetStr(sink, sizeof(sink), r->fcgi->in) > 0)
			;
		r->body_too_large = 1;
		return 0;
	}
	if (n == 0)
		return 0;
	char *body = arena_alloc(&r->arena, (size_t)n + 1);
	if (body == NULL) {
		resp_error(r, 503, "Out of memory.");
		return 503;
	}
	got = FCGX_GetStr(body, (int)n, r->fcgi->in);
	if (got != n) {
		resp_error(r, 400, "The request body ended early (%d of %lld bytes).", got < 0 ? 0 : got, n);
		return 400;
	}
	body[n] = '\0';
	r->body = body;
	r->body_len = (size_t)n;
	return 0;
}

/* The first request header longer than LIMIT_HEADER_MAX, as its "HTTP_NAME=value" entry, or NULL. The
 * web server has limits of its own; this one holds whatever server is in front. */
static const char *
oversized_header(FCGX_Request *fr)
{
	const char *eq;

	for (char **e = fr->envp; *e; e++)
		if (strncmp(*e, "HTTP_", 5) == 0 && (eq = strchr(*e, '=')) != NULL &&
		    strlen(eq + 1) > LIMIT_HEADER_MAX)
			return *e;
	return NULL;
}

static void
handle(struct worker *w, FCGX_Request *fr, struct req *r, unsigned long seq)
{
	const char *rid, *uri, *big;
	int64_t took;

	r->fcgi = fr;
	r->db = &w->db;
	r->start_us = now_us();
	if ((rid = FCGX_GetParam("REQUEST_ID", fr->envp)) != NULL && *rid)
		snprintf(r->id, sizeof(r->id), "%.16s", rid);
	else
		snprintf(r->id, sizeof(r->id), "%02d-%lu", w->n, seq);
	r->method_str = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	r->method = parse_method(r->method_str);
	if (r->method_str == NULL)
		r->method_str = "-";
	r->query_string = FCGX_GetParam("QUERY_STRING", fr->envp);
	r->remote_addr = FCGX_GetParam("REMOTE_ADDR", fr->envp);
	r->content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	r->no_store = 1;
	/* DOCUMENT_URI is nginx's normalised path; REQUEST_URI is the fallback for other servers. */
	if ((uri = FCGX_GetParam("DOCUMENT_URI", fr->envp)) == NULL || *uri == '\0') {
		uri = FCGX_GetParam("REQUEST_URI", fr->envp);
		if (uri)
			uri = arena_strndup(&r->arena, uri, strcspn(uri, "?"));
	}
	r->path = uri && *uri ? uri : "/";

	if (strlen(r->path) > LIMIT_PATH_MAX)
		resp_error(r, 414, "The path is longer than %d bytes.", LIMIT_PATH_MAX);
	else if ((big = oversized_header(fr)) != NULL)
		resp_error(r, 400, "The header %.*s is longer than %d bytes.", (int)(strcspn(big, "=") - 5), big + 5,
		    LIMIT_HEADER_MAX);
	else if (r->method == METHOD_OTHER)
		resp_error(r, 405, "Unsupported method.");
	else if (read_body(r) == 0)
		http_dispatch(r);

	resp_finish(r);
	took = now_us() - r->start_us;
	metrics_request(http_route_index(r->route), r->status, took);
	log_info(r->id, "%s %s %s %d %.1fms", r->method_str, r->path, http_route_name(r->route), r->status,
	    (double)took / 1000.0);
}

/* Reset the per-request state, keeping the buffers' memory for the next request. */
static void
req_clear(struct req *r)
{
	struct arena a = r->arena;
	struct buf h = r->headers, o = r->out;

	if (r->json)
		json_decref(r->json);
	arena_reset(&a);
	/* A response that grew large gives its memory back rather than pinning it per thread. */
	if (o.cap > 1024 * 1024)
		buf_free(&o);
	buf_reset(&h);
	buf_reset(&o);
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->headers = h;
	r->out = o;
}

/* Wait until fd is readable or a stop is requested. 1 readable, 0 stop. */
static int
wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rc;

	while (!atomic_load(&stopping)) {
		rc = poll(&p, 1, POLL_MS);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return 1;   /* let FCGX_Accept_r report the error */
	}
	return 0;
}

static void *
serve(void *arg)
{
	struct worker *w = arg;
	struct req r;
	FCGX_Request fr;
	unsigned long seq = 0;
	int rc, ready;
	char name[32];

	memset(&r, 0, sizeof(r));
	snprintf(name, sizeof(name), "timebridge-fcgi-%d", w->n);
	if (db_open(&w->db, config_get()->database, name, LIMIT_DB_STATEMENT_MS) != 0)
		log_warn("fcgi", "thread %d: %s (will retry per request)", w->n, w->db.err);
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("fcgi", "thread %d: FCGX_InitRequest failed", w->n);
		goto out;
	}
	for (;;) {
		/* A kept-alive web-server connection is ours alone: wait on it without the accept lock. */
		if (fr.ipcFd >= 0) {
			if (!wait_readable(fr.ipcFd))
				break;
			rc = FCGX_Accept_r(&fr);
		} else {
			pthread_mutex_lock(&accept_lock);
			ready = wait_readable(listen_fd);
			rc = ready ? FCGX_Accept_r(&fr) : -1;
			pthread_mutex_unlock(&accept_lock);
			if (!ready)
				break;
		}
		if (rc < 0) {
			if (atomic_load(&stopping))
				break;
			continue;   /* EAGAIN from the non-blocking listener, or a dropped connection */
		}
		handle(w, &fr, &r, ++seq);
		FCGX_Finish_r(&fr);
		req_clear(&r);
	}
	FCGX_Free(&fr, 1);
out:
	req_clear(&r);
	arena_free(&r.arena);
	buf_free(&r.headers);
	buf_free(&r.out);
	db_close(&w->db);
	atomic_store(&w->done, 1);
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: timebridge-fcgi [--config FILE] [--listen PATH|HOST:PORT]\n"
	    "Without --listen the listening socket is file descriptor 0 (spawn-fcgi, systemd sockets).\n\n%s",
	    config_help);
}

int
main(int argc, char *argv[])
{
	const char *cfgfile = NULL, *listen_at = NULL;
	struct worker *workers = NULL;
	char err[512];
	sigset_t set;
	int sig, n, flags;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			cfgfile = argv[++i];
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_at = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	/* Order matters: refuse root, configuration (and the derived keys), templates, the socket, threads.
	 * Privileges are the service manager's business (systemd User=, spawn-fcgi -u): a web-facing process
	 * holding root is never right, so we refuse rather than drop. */
	if (geteuid() == 0) {
		fprintf(stderr, "timebridge-fcgi: refusing to run as root; run it as an unprivileged user "
		    "(systemd User=, spawn-fcgi -u)\n");
		return 1;
	}
	log_init("timebridge-fcgi", LOG_INFO);
	if (config_load(cfgfile, CONFIG_NEED_SECRET, err, sizeof(err)) != 0) {
		fprintf(stderr, "timebridge-fcgi: %s\n", err);
		return 1;
	}
	log_set_level(config_get()->log_level);
	if (templates_load(config_get()->template_dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "timebridge-fcgi: templates: %s\n", err);
		return 1;
	}
	if ((http_schema_expected = db_migrations_latest(config_get()->sql_dir, err, sizeof(err))) < 0) {
		fprintf(stderr, "timebridge-fcgi: TIMEBRIDGE_SQL_DIR: %s\n", err);
		return 1;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "timebridge-fcgi: FCGX_Init failed\n");
		return 1;
	}
	if (listen_at) {
		mode_t old = umask(0);
		/* The socket file is world-connectable; protect it with its directory's permissions. */
		listen_fd = FCGX_OpenSocket(listen_at, 128);
		umask(old);
		if (listen_fd < 0) {
			fprintf(stderr, "timebridge-fcgi: --listen %s: cannot open the socket\n", listen_at);
			return 1;
		}
	} else
		listen_fd = 0;
	/* Non-blocking: after poll() says ready, another process on the same socket may win the accept. */
	if ((flags = fcntl(listen_fd, F_GETFL)) < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		fprintf(stderr, "timebridge-fcgi: the listening socket is not usable: %s\n", strerror(errno));
		return 1;
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	n = config_get()->fcgi_threads;
	if ((workers = calloc((size_t)n, sizeof(*workers))) == NULL) {
		fprintf(stderr, "timebridge-fcgi: out of memory\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		workers[i].n = i;
		if (pthread_create(&workers[i].th, NULL, serve, &workers[i]) != 0) {
			fprintf(stderr, "timebridge-fcgi: cannot start thread %d\n", i);
			return 1;
		}
	}
	log_info("fcgi", "timebridge-fcgi %s ready: %d threads on %s", PACKAGE_VERSION, n,
	    listen_at ? listen_at : "fd 0");

	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGHUP);   /* nothing to reload yet: configuration is read at start */
	log_info("fcgi", "signal %d: finishing requests in flight", sig);
	atomic_store(&stopping, 1);
	FCGX_ShutdownPending();
	for (int i = 0; i < n; i++)
		pthread_join(workers[i].th, NULL);
	free(workers);
	if (listen_at && listen_at[0] == '/')
		unlink(listen_at);
	templates_free();
	crypto_shutdown();
	config_free();
	log_info("fcgi", "stopped");
	return 0;
}
