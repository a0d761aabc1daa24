/* limits.h: every size and time limit of timebridge, named once. Each has one defined rejection. */
#ifndef TB_LIMITS_H
#define TB_LIMITS_H

/* Request input (FastCGI side). Oversize → 413 for bodies, 400 for the rest; nginx mirrors these. */
#define LIMIT_BODY_MAX            (1024 * 1024)   /* any request body; webhook bodies too → 413 */
#define LIMIT_FORM_BODY_MAX       (64 * 1024)     /* urlencoded admin forms → 413 */
#define LIMIT_QUERY_MAX           4096            /* QUERY_STRING bytes → 400 */
#define LIMIT_COOKIE_MAX          4096            /* HTTP_COOKIE bytes → 400 */
#define LIMIT_HEADER_MAX          8192            /* any single header value → 400 */
#define LIMIT_PATH_MAX            1024            /* request path bytes → 414 */
#define LIMIT_FIELDS_MAX          64              /* query/form/cookie pairs → 400 */
#define LIMIT_FIELD_NAME_MAX      64              /* one key → 400 */
#define LIMIT_FIELD_VALUE_MAX     8192            /* one value → 400 */
#define LIMIT_JSON_DEPTH_MAX      32              /* nesting of a JSON body → 400 */
#define LIMIT_EMAIL_MAX           254             /* an e-mail address (RFC 5321 path) → invalid field */

/* Templates. */
#define LIMIT_TEMPLATE_SIZE_MAX   (256 * 1024)    /* a template file → load error */
#define LIMIT_TEMPLATE_KEY_MAX    48              /* a @@key@@ marker name → parse error */
#define LIMIT_TEMPLATE_NEST_MAX   8               /* tmpl_nest() depth (layout → page → rows) → render error */

/* Output. */
#define LIMIT_RESPONSE_HEADERS    2048            /* bytes of extra response headers */

/* Secrets. */
#define LIMIT_SECRET_KEY_MIN      32              /* TIMEBRIDGE_SECRET_KEY characters → refuse to start */
#define LIMIT_PASSWORD_MIN        10              /* user passwords */
#define LIMIT_PASSWORD_MAX        1024
#define LIMIT_SESSION_IDLE_S      (2 * 3600)      /* a session unused this long is over → /login */
#define LIMIT_SESSION_ABSOLUTE_S  (7 * 24 * 3600) /* and every session ends after this */
#define LIMIT_TOKEN_BYTES         32              /* random bytes in session ids, API tokens, URL tokens */

/* Database. */
#define LIMIT_DB_STATEMENT_MS     5000            /* statement_timeout of web requests → 503/504 */
#define LIMIT_DB_CONNECT_S        5               /* connect_timeout */

/* Outbound HTTP (libcurl). */
#define LIMIT_HTTP_CONNECT_MS     5000
#define LIMIT_HTTP_TOTAL_MS       30000
#define LIMIT_HTTP_RESPONSE_MAX   (16 * 1024 * 1024)

/* Worker. */
#define LIMIT_JOB_LEASE_S         120             /* a job not finished by then is taken again */
#define LIMIT_JOB_ATTEMPTS        8               /* then the job is dead */
#define LIMIT_JOB_BACKOFF_BASE_S  5               /* first retry delay; doubles per attempt */
#define LIMIT_JOB_BACKOFF_MAX_S   3600
#define LIMIT_WORKER_POLL_MS      1000            /* wake-up without NOTIFY */
#define LIMIT_JOB_ERROR_MAX       2000            /* chars of last_error kept */

/* FastCGI. */
#define LIMIT_FCGI_THREADS_MAX    256
#define LIMIT_FCGI_THREADS_DEFAULT 4

#endif
