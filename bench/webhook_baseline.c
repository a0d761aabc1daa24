/* webhook_baseline.c: the yardstick of bench/webhook.sh: the least a webhook receiver can do and still be
 * honest. A FastCGI responder with N threads, each with its own PostgreSQL connection and a prepared
 * statement; per request it reads the body, verifies X-Webhook-Signature-256 (HMAC-SHA256 over the raw
 * body, fixed secret, constant-time compare) and upserts one row keyed by the entry id with a NOTIFY, in
 * one statement. No routing, no token lookup, no JSON parsing in C, no dedupe, no logging. The NOTIFY goes
 * to tb_jobs, the channel timebridge-worker listens on, because that is what telling the worker costs: its
 * wake-up is part of the price of a NOTIFY, for the baseline as for timebridge.
 *
 *   webhook_baseline --listen SOCKET --threads N --database CONNINFO      (secret in $BASELINE_SECRET)
 *
 * Built by bench/webhook.sh with: cc -O2 webhook_baseline.c -lfcgi -lpq -lcrypto -lpthread */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define BODY_MAX (1024 * 1024)

static const char *secret, *conninfo;
static int listen_fd;
static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

static const char setup_sql[] =
    "CREATE TABLE IF NOT EXISTS bench_baseline (id bigint PRIMARY KEY, body jsonb NOT NULL, "
    "at timestamptz NOT NULL)";
static const char upsert_sql[] =
    "WITH up AS (INSERT INTO bench_baseline (id, body, at) "
    "VALUES (($1::jsonb->'payload'->>'id')::bigint, $1::jsonb, now()) "
    "ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, at = EXCLUDED.at RETURNING id) "
    "SELECT pg_notify('tb_jobs', '') FROM up";

/* SIGTERM ends the bench run: nothing to flush, every reply was written already. */
static void
on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static int
verify(const char *header, const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 8];
	static const char digits[] = "0123456789abcdef";

	if (header == NULL || strncmp(header, "sha256=", 7) != 0)
		return 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &maclen);
	for (unsigned int i = 0; i < maclen; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	return strlen(header + 7) == 2 * maclen && CRYPTO_memcmp(header + 7, hex, 2 * maclen) == 0;
}

static void
reply(FCGX_Request *r, int status, const char *body)
{
	FCGX_FPrintF(r->out, "Status: %d\r\nContent-Type: application/json\r\n\r\n%s", status, body);
}

static void
handle(FCGX_Request *r, PGconn *db, char *body)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	const char *params[1];
	long n = cl ? strtol(cl, NULL, 10) : 0;
	PGresult *res;

	if (n <= 0 || n > BODY_MAX || FCGX_GetStr(body, (int)n, r->in) != n) {
		reply(r, 400, "{}");
		return;
	}
	body[n] = '\0';
	if (!verify(FCGX_GetParam("HTTP_X_WEBHOOK_SIGNATURE_256", r->envp), body, (size_t)n)) {
		reply(r, 401, "{}");
		return;
	}
	params[0] = body;
	res = PQexecPrepared(db, "up", 1, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "webhook_baseline: %s", PQerrorMessage(db));
		reply(r, 503, "{}");
	} else
		reply(r, 200, "{}");
	PQclear(res);
}

static int
wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return 0;
	return 1;
}

static void *
serve(void *arg)
{
	FCGX_Request r;
	PGconn *db = PQconnectdb(conninfo);
	PGresult *res;
	char *body = malloc(BODY_MAX + 1);
	int rc;

	(void)arg;
	if (PQstatus(db) != CONNECTION_OK || body == NULL) {
		fprintf(stderr, "webhook_baseline: %s", PQerrorMessage(db));
		exit(1);
	}
	res = PQprepare(db, "up", upsert_sql, 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "webhook_baseline: prepare: %s", PQerrorMessage(db));
		exit(1);
	}
	PQclear(res);
	FCGX_InitRequest(&r, listen_fd, 0);
	for (;;) {
		/* The same accept discipline as timebridge-fcgi: a kept-alive connection is waited on without
		 * the accept lock, so one idle connection never blocks the other threads. */
		if (r.ipcFd >= 0) {
			if (!wait_readable(r.ipcFd))
				break;
			rc = FCGX_Accept_r(&r);
		} else {
			pthread_mutex_lock(&accept_lock);
			rc = wait_readable(listen_fd) ? FCGX_Accept_r(&r) : -1;
			pthread_mutex_unlock(&accept_lock);
		}
		if (rc < 0)
			continue;
		handle(&r, db, body);
		FCGX_Finish_r(&r);
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	const char *listen_at = NULL;
	int threads = 4;
	pthread_t *th;
	PGconn *db;
	PGresult *res;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = argv[i + 1];
		else if (strcmp(argv[i], "--threads") == 0)
			threads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--database") == 0)
			conninfo = argv[i + 1];
	}
	secret = getenv("BASELINE_SECRET");
	if (listen_at == NULL || conninfo == NULL || secret == NULL || *secret == '\0' || threads < 1) {
		fprintf(stderr, "usage: BASELINE_SECRET=S webhook_baseline --listen SOCKET --threads N --database CONNINFO\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	db = PQconnectdb(conninfo);
	res = PQexec(db, setup_sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "webhook_baseline: %s", PQerrorMessage(db));
		return 1;
	}
	PQclear(res);
	PQfinish(db);
	FCGX_Init();
	umask(0);
	if ((listen_fd = FCGX_OpenSocket(listen_at, 128)) < 0) {
		fprintf(stderr, "webhook_baseline: cannot listen on %s\n", listen_at);
		return 1;
	}
	th = calloc((size_t)threads, sizeof(*th));
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, serve, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return 0;
}
