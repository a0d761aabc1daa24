/* http_client.h: the one hardened libcurl wrapper every outbound HTTP call goes through (Toggl, Google,
 * GitLab). Policy lives here so no client can weaken it: TLS peer and host verification always on,
 * https only (plain http only to a loopback host), connect and total timeouts, a response size cap,
 * redirects never followed (a 3xx is returned to the caller), nothing retried (that is the job queue's
 * business), Authorization values and bodies never logged. */
#ifndef TB_HTTP_CLIENT_H
#define TB_HTTP_CLIENT_H

#include <stddef.h>

#include "util/buf.h"

enum http_err {
	HTTP_OK = 0,
	HTTP_ERR_CONNECT,    /* name resolution failed or connection refused/unreachable */
	HTTP_ERR_TIMEOUT,    /* connect or total timeout elapsed */
	HTTP_ERR_TLS,        /* handshake failed or the peer certificate/host did not verify */
	HTTP_ERR_TOO_LARGE,  /* response (headers + body) larger than the cap */
	HTTP_ERR_URL,        /* refused by policy before any connection: scheme, host, credentials in the
	                      * URL, unknown method, CR/LF in a header or credential */
	HTTP_ERR_OTHER       /* anything else: out of memory, protocol error, connection reset... */
};

/* One curl easy handle with its connection cache (keep-alive), owned by the caller. Not for concurrent
 * use: one per thread (the worker has one per process). */
struct http_client;

struct http_request {
	const char         *method;        /* "GET", "POST", "PUT", "PATCH" or "DELETE"; NULL means GET */
	const char         *url;           /* https://..., or http:// to 127.0.0.0/8, [::1] or localhost */
	const char         *content_type;  /* of body; NULL sends no Content-Type (then set it in headers) */
	const char         *body;          /* not copied; may be NULL when body_len is 0 */
	size_t              body_len;
	const char *const  *headers;       /* NULL or a NULL-terminated array of "Name: value" */
	const char         *basic_user;    /* Basic auth when non-NULL (basic_pass NULL means "") */
	const char         *basic_pass;
	const char         *bearer;        /* "Authorization: Bearer <bearer>" when non-NULL */
	long                timeout_ms;    /* total; 0 = LIMIT_HTTP_TOTAL_MS */
	long                connect_timeout_ms; /* 0 = LIMIT_HTTP_CONNECT_MS */
	size_t              max_response;  /* cap on headers + decoded body; 0 = LIMIT_HTTP_RESPONSE_MAX,
	                                    * which a caller can only lower */
	const char         *log_ctx;       /* log context (job id...), may be NULL */
};

struct http_response {
	long         status;     /* HTTP status, 0 when no response was received */
	struct buf   body;       /* NUL-terminated when non-empty (data may be NULL for an empty body) */
	char       **headers;    /* "Name: value" of the final response, trimmed, in arrival order */
	size_t       nheaders;
	double       total_ms;   /* wall time of the transfer as libcurl measured it */
};

/* NULL on failure (logged). The first call initialises libcurl globally (pthread_once) and, because
 * transfers run with CURLOPT_NOSIGNAL, sets SIGPIPE to ignored unless the program already chose a
 * disposition for it. */
struct http_client *http_client_new(void) __attribute__((warn_unused_result));
/* Closes the kept-alive connections. NULL is fine. */
void http_client_free(struct http_client *c);
/* At process exit, after every client is freed: curl_global_cleanup(), so valgrind sees no leak. No
 * http_client_new() may follow. */
void http_global_cleanup(void);

/* Perform one request. resp is overwritten (it need not be initialised, but must not hold a previous
 * response: free that first) and must be released with http_response_free() whatever the result. On an
 * error resp may hold what arrived before it (status, headers, a partial body). A non-2xx status is
 * HTTP_OK: interpreting it is the caller's job. Redirects are not followed: a 3xx comes back with its
 * Location header. */
enum http_err http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
	__attribute__((warn_unused_result));

/* Value of the first response header named name (case-insensitive), NULL if absent. */
const char *http_header(const struct http_response *resp, const char *name);
void http_response_free(struct http_response *resp);
const char *http_strerror(enum http_err e);

/* Percent-encode s (everything but A-Z a-z 0-9 - . _ ~) onto b: for query values and path segments. */
void http_escape(struct buf *b, const char *s);
/* Append "key=value" (both escaped as above, "&" first unless b is empty) to an
 * application/x-www-form-urlencoded body, e.g. for OAuth token calls. Growth never leaves an unwiped copy
 * of the earlier content behind, so a body holding secrets can be released with buf_wipe_free(). OOM
 * sticks in b->oom as with the other buf functions. */
void http_form_add(struct buf *b, const char *key, const char *val);

#endif
