/* http.h: the request model of the FastCGI side: struct req (everything one request owns), the route
 * table's flags, and the response helpers. Only src/http/ and src/fcgi_main.c see libfcgi. */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db/db.h"
#include "util/buf.h"

struct FCGX_Request;
struct route;
struct kvlist;

enum http_method { METHOD_GET = 1, METHOD_HEAD = 2, METHOD_POST = 4, METHOD_PUT = 8, METHOD_PATCH = 16,
	METHOD_DELETE = 32, METHOD_OPTIONS = 64, METHOD_OTHER = 128 };

/* Route flags, checked by the router before any handler runs. */
#define R_SESSION  0x01   /* a logged-in user: browsers are sent to /login */
#define R_CSRF     0x02   /* unsafe methods need the session's CSRF token (form field "csrf" or X-CSRF-Token) */
#define R_TOKEN    0x04   /* an API token: Bearer, or Basic with email and token */
#define R_ADMIN    0x08   /* the user must be an admin */
#define R_JSON     0x10   /* the body must be a JSON object: 400 before the handler otherwise */
#define R_FORM     0x20   /* the body is application/x-www-form-urlencoded */
#define R_NODB     0x40   /* needs no database connection (health) */
#define R_PREFIX   0x80   /* the pattern matches a path prefix: the rest is in req->path_rest */
#define R_LATE_413 0x100  /* the handler answers an oversize body (413) itself, after its own checks:
                           * the webhook says 404 for an unknown token first (req->body_too_large) */

/* The user a request acts for, from a session or an API token. */
struct req_user {
	int64_t     id;
	const char *email;
	const char *time_zone;
	int         is_admin;
};

#define REQ_PATH_ARGS 4

struct req {
	struct FCGX_Request *fcgi;
	struct arena        arena;       /* everything below that is allocated lives here */
	struct db          *db;          /* the thread's connection */
	char                id[20];      /* request id for the log */
	int64_t             start_us;

	enum http_method    method;
	const char         *method_str;
	const char         *path;        /* DOCUMENT_URI, percent-decoding left to the handler */
	const char         *path_rest;   /* after the route prefix, for R_PREFIX routes */
	const char         *path_args[REQ_PATH_ARGS]; /* '*' segments of the route pattern */
	const char         *query_string;
	const char         *remote_addr;
	const char         *content_type;
	const char         *body;        /* NUL-terminated copy; body_len excludes the NUL */
	size_t              body_len;
	int                 body_too_large; /* over LIMIT_BODY_MAX: drained, not kept; 413 (R_LATE_413) */

	struct kvlist      *query;       /* parsed on first use */
	struct kvlist      *form;
	struct kvlist      *cookies;
	json_t             *json;        /* R_JSON routes: the parsed body (owned, freed at the end) */

	struct req_user     user;        /* valid when authed */
	int                 authed;
	const char         *session_id;  /* the raw session id from the cookie, for CSRF */
	const char         *csrf;        /* the CSRF token of this session */
	int64_t             token_id;

	const struct route *route;

	/* response */
	int                 status;
	struct buf          headers;     /* extra "Name: value\r\n" lines */
	struct buf          out;         /* the body */
	const char         *out_type;    /* Content-Type */
	int                 no_store;    /* Cache-Control: no-store (default for dynamic pages) */
};

/* request.c: reading the input. Values are NULL when absent. */
const char *req_param(struct req *r, const char *name);    /* a FastCGI parameter, e.g. "HTTP_HOST" */
const char *req_header(struct req *r, const char *name);   /* by HTTP name, e.g. "X-Webhook-Signature-256" */
const char *req_query(struct req *r, const char *name);
const char *req_form(struct req *r, const char *name);
const char *req_cookie(struct req *r, const char *name);
/* All values of a repeated form field, NULL-terminated array in the arena. */
const char **req_form_all(struct req *r, const char *name);
int         req_is_https(struct req *r);
/* The router's input gate: bounds and parses query, form (R_FORM) and JSON (R_JSON) bodies. 0 when the
 * request may go on, otherwise the error status already answered. */
int         req_validate_input(struct req *r, int flags);

/* response.c: status, headers and bodies. Everything is buffered and written once at the end. */
void resp_status(struct req *r, int status);
void resp_header(struct req *r, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void resp_json(struct req *r, int status, json_t *body);           /* steals the reference */
void resp_text(struct req *r, int status, const char *text);
void resp_redirect(struct req *r, int status, const char *location); /* location must be local */
/* A JSON error body as Grafana reads it: {"message": m, "error": {"code": code, "message": m}}. */
void resp_json_error(struct req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error for a person: an HTML page for browsers, text otherwise. */
void resp_error(struct req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void resp_cookie(struct req *r, const char *name, const char *value, long max_age_s, int http_only);
const char *http_reason(int status);
void resp_finish(struct req *r);   /* fcgi_main.c calls it once per request */

/* A local path for a "next" parameter: starts with one '/', no scheme, no "//", no backslash.
 * Returns fallback otherwise. */
const char *http_local_path(const char *next, const char *fallback);

/* router.c */
void http_dispatch(struct req *r);
const char *http_route_name(const struct route *rt);
int         http_route_flags(const struct route *rt);   /* R_* of a route; 0 for none */
size_t http_route_count(void);
size_t http_route_index(const struct route *rt);
const char *http_route_name_at(size_t i);

/* session.c: sessions and CSRF. */
int  session_create(struct req *r, int64_t user_id);    /* rotates: a new id at every login */
void session_destroy(struct req *r);
int  session_load(struct req *r);                        /* 1 logged in, 0 not, -1 db error */
int  session_csrf_ok(struct req *r);
const char *session_csrf_token(struct req *r);           /* for forms; sets a pre-login cookie if needed */
int  token_auth(struct req *r);                          /* 1 ok, 0 bad or none, -1 db error */

#define SESSION_COOKIE      "tb_session"

/* The schema version this installation needs: the highest migration in its sql/ directory, found once
 * at start by fcgi_main.c. */
extern int http_schema_expected;

#endif
