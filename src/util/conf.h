/* conf.h: the process configuration, read once at start from the environment and an optional
 * KEY=VALUE file, validated as a whole. Read-only after config_load(). */
#ifndef TB_CONF_H
#define TB_CONF_H

#include <stddef.h>

#include "util/log.h"

struct config {
	const char     *database;            /* TIMEBRIDGE_DATABASE: libpq conninfo */
	const char     *public_url;          /* TIMEBRIDGE_PUBLIC_URL, no trailing slash */
	int             public_https;        /* public_url is https: Secure cookies, HSTS */
	const char     *google_client_id;    /* GOOGLE_CLIENT_ID */
	const char     *google_client_secret;/* GOOGLE_CLIENT_SECRET */
	const char     *toggl_url;           /* TIMEBRIDGE_TOGGL_URL, no trailing slash */
	const char     *google_auth_url;     /* TIMEBRIDGE_GOOGLE_AUTH_URL */
	const char     *google_token_url;    /* TIMEBRIDGE_GOOGLE_TOKEN_URL */
	const char     *google_revoke_url;   /* TIMEBRIDGE_GOOGLE_REVOKE_URL */
	const char     *google_api_url;      /* TIMEBRIDGE_GOOGLE_API_URL, no trailing slash */
	enum log_level  log_level;           /* TIMEBRIDGE_LOG_LEVEL */
	int             fcgi_threads;        /* TIMEBRIDGE_FCGI_THREADS */
	const char     *sql_dir;             /* TIMEBRIDGE_SQL_DIR: migrations */
	const char     *template_dir;        /* TIMEBRIDGE_TEMPLATE_DIR */
	int             grafana_cors;        /* TIMEBRIDGE_GRAFANA_CORS: 1 = answer CORS preflights */
	const char     *grafana_cors_origin; /* TIMEBRIDGE_GRAFANA_CORS_ORIGIN, default "*" */
};

/* What a program needs: the secret key is required by everything that seals or signs. */
enum config_need { CONFIG_NEED_SECRET = 1 };

/* Load from file (may be NULL) then the environment (the environment wins), validate, derive the crypto
 * keys from TIMEBRIDGE_SECRET_KEY and wipe it. On error writes one line naming the variable into err and
 * returns -1. */
int config_load(const char *file, int need, char *err, size_t errsz) __attribute__((warn_unused_result));
const struct config *config_get(void);
void config_free(void);   /* at exit, so leak checkers see a clean process */

/* Upstream URLs must be https unless the host is loopback. 0 if acceptable. Exposed for tests. */
int config_url_ok(const char *url);

/* Text of `--help` describing every variable. */
extern const char config_help[];

#endif
