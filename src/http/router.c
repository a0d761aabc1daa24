/* router.c: the route table. Each row names a path pattern, the methods it takes, the flags the router
 * checks before the handler runs (session, CSRF, API token, admin, body kind), and the handler. */
#include "config.h"

#include <string.h>

#include "handlers/handlers.h"
#include "http/http.h"
#include "util/limits.h"
#include "util/log.h"

struct route {
	const char *name;       /* for logs and metrics */
	unsigned    methods;
	const char *pattern;    /* literal segments and '*' for one segment; R_PREFIX: a path prefix */
	int         flags;
	void      (*fn)(struct req *);
};

#define GET_HEAD (METHOD_GET | METHOD_HEAD)

int http_schema_expected;   /* set once at start, before the threads */

static const struct route routes[] = {
	/* health and operations */
	{ "healthz",  GET_HEAD, "/healthz", R_NODB, h_healthz },
	{ "readyz",   GET_HEAD, "/readyz",  R_NODB, h_readyz },
	{ "metrics",  GET_HEAD, "/metrics", R_NODB, h_metrics },

	/* -- features add their rows below, one block per feature -- */

	/* toggl webhook (issue 3): no session or token, the URL token and the HMAC are the handler's; the
	 * body is read raw (signed bytes) and its size judged only after the token (R_LATE_413) */
	{ "webhook_toggl", METHOD_POST, "/webhook/toggl/*", R_LATE_413, h_webhook_toggl },

	/* grafana (issue 5): the JSON API for Grafana's simPod JSON and Infinity datasources. A CORS preflight
	 * carries no credentials, so OPTIONS comes first and without R_TOKEN; everything else needs a token
	 * (401 before the body is looked at). Every other method reaches the handler, which answers 405 in
	 * the JSON error shape Grafana shows. */
	{ "grafana_preflight", METHOD_OPTIONS, "/api/grafana", R_PREFIX | R_NODB, h_grafana_preflight },
	{ "grafana", GET_HEAD | METHOD_POST | METHOD_PUT | METHOD_PATCH | METHOD_DELETE, "/api/grafana",
	  R_PREFIX | R_TOKEN | R_JSON, h_grafana },

	/* google (issue 4): the consent round trip; the callback is a top-level GET from Google, which carries
	 * the SameSite=Lax session cookie */
	{ "oauth_google_start",    GET_HEAD,    "/oauth/google/start",    R_SESSION, h_oauth_google_start },
	{ "oauth_google_callback", GET_HEAD,    "/oauth/google/callback", R_SESSION, h_oauth_google_callback },
	{ "google_disconnect",     METHOD_POST, "/google/disconnect",     R_SESSION | R_CSRF | R_FORM, h_google_disconnect },

	/* admin pages (issue 6): pages are GETs with a session; every change of state is a POST carrying the
	 * session's CSRF token (before login: the token bound to the tb_csrf cookie) */
#define ADMIN_POST (R_SESSION | R_CSRF | R_FORM)
	{ "login_form",           GET_HEAD,    "/login",                0, h_login_form },
	{ "login",                METHOD_POST, "/login",                R_CSRF | R_FORM, h_login },
	{ "logout",               METHOD_POST, "/logout",               ADMIN_POST, h_logout },
	{ "dashboard",            GET_HEAD,    "/",                     R_SESSION, h_dashboard },
	{ "toggl_page",           GET_HEAD,    "/toggl",                R_SESSION, h_toggl_page },
	{ "toggl_token",          METHOD_POST, "/toggl/token",          ADMIN_POST, h_toggl_token },
	{ "toggl_webhook_setup",  METHOD_POST, "/toggl/webhook/setup",  ADMIN_POST, h_toggl_webhook_setup },
	{ "toggl_webhook_remove", METHOD_POST, "/toggl/webhook/remove", ADMIN_POST, h_toggl_webhook_remove },
	{ "toggl_refresh",        METHOD_POST, "/toggl/refresh",        ADMIN_POST, h_toggl_refresh },
	{ "toggl_reconcile",      METHOD_POST, "/toggl/reconcile",      ADMIN_POST, h_toggl_reconcile },
	{ "toggl_import",         METHOD_POST, "/toggl/import",         ADMIN_POST, h_toggl_import },
	{ "google_page",          GET_HEAD,    "/google",               R_SESSION, h_google_page },
	{ "google_settings",      METHOD_POST, "/google/settings",      ADMIN_POST, h_google_settings },
	{ "google_color_add",     METHOD_POST, "/google/colors",        ADMIN_POST, h_google_color_add },
	{ "google_color_delete",  METHOD_POST, "/google/colors/delete", ADMIN_POST, h_google_color_delete },
	{ "entries",              GET_HEAD,    "/entries",              R_SESSION, h_entries },
	{ "entries_resync",       METHOD_POST, "/entries/resync",       ADMIN_POST, h_entries_resync },
	{ "jobs",                 GET_HEAD,    "/jobs",                 R_SESSION, h_jobs },
	{ "jobs_retry",           METHOD_POST, "/jobs/retry",           ADMIN_POST, h_jobs_retry },
	{ "jobs_retry_dead",      METHOD_POST, "/jobs/retry-dead",      ADMIN_POST, h_jobs_retry_dead },
	{ "tokens",               GET_HEAD,    "/tokens",               R_SESSION, h_tokens },
	{ "tokens_create",        METHOD_POST, "/tokens/create",        ADMIN_POST, h_tokens_create },
	{ "tokens_revoke",        METHOD_POST, "/tokens/revoke",        ADMIN_POST, h_tokens_revoke },
	{ "users",                GET_HEAD,    "/users",                R_SESSION | R_ADMIN, h_users },
	{ "users_add",            METHOD_POST, "/users/add",            ADMIN_POST | R_ADMIN, h_users_add },
	{ "users_update",         METHOD_POST, "/users/update",         ADMIN_POST | R_ADMIN, h_users_update },
	{ "settings",             GET_HEAD,    "/settings",             R_SESSION | R_ADMIN, h_settings },
	{ "settings_save",        METHOD_POST, "/settings",             ADMIN_POST | R_ADMIN, h_settings_save },
#undef ADMIN_POST
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

size_t
http_route_count(void)
{
	return NROUTES;
}

size_t
http_route_index(const struct route *rt)
{
	return rt ? (size_t)(rt - routes) : NROUTES;
}

const char *
http_route_name_at(size_t i)
{
	return i < NROUTES ? routes[i].name : "none";
}

const char *
http_route_name(const struct route *rt)
{
	return rt ? rt->name : "none";
}

int
http_route_flags(const struct route *rt)
{
	return rt ? rt->flags : 0;
}

/* Match path against pattern; '*' segments go to args. 1 on a match. */
static int
match(struct req *r, const struct route *rt, const char *path)
{
	const char *p = rt->pattern, *s = path, *end;
	int nargs = 0;

	if (rt->flags & R_PREFIX) {
		size_t n = strlen(p);
		if (strncmp(path, p, n) != 0 || (path[n] != '\0' && path[n] != '/'))
			return 0;
		r->path_rest = path + n;
		return 1;
	}
	while (*p && *s) {
		if (*p == '*') {
			end = s + strcspn(s, "/");
			if (end == s || nargs == REQ_PATH_ARGS)
				return 0;
			r->path_args[nargs++] = arena_strndup(&r->arena, s, (size_t)(end - s));
			s = end;
			p++;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/* Authentication and CSRF for the route's flags. 0 when the handler may run. */
static int
gate(struct req *r, const struct route *rt)
{
	int rc;

	if (rt->flags & R_TOKEN) {
		if ((rc = token_auth(r)) < 0) {
			resp_json_error(r, 503, "DB_DOWN", "database unavailable");
			return -1;
		}
		if (rc == 0) {
			resp_header(r, "WWW-Authenticate", "Bearer realm=\"timebridge\"");
			resp_json_error(r, 401, "UNAUTHORIZED",
			    "missing or invalid API token: use Authorization: Bearer <token> from `timebridge token create`");
			return -1;
		}
	}
	if (rt->flags & R_SESSION) {
		if ((rc = session_load(r)) < 0) {
			resp_error(r, 503, "The database is unavailable; try again in a moment.");
			return -1;
		}
		if (rc == 0) {
			if (r->method & (METHOD_GET | METHOD_HEAD)) {
				const char *loc = arena_printf(&r->arena, "/login?next=%s", r->path);
				resp_redirect(r, 303, loc);
			} else
				resp_error(r, 401, "Please log in again: your session has ended.");
			return -1;
		}
	}
	if ((rt->flags & R_ADMIN) && !r->user.is_admin) {
		resp_error(r, 403, "Only an administrator may do this.");
		return -1;
	}
	if ((rt->flags & R_CSRF) && !(r->method & (METHOD_GET | METHOD_HEAD | METHOD_OPTIONS)) &&
	    !session_csrf_ok(r)) {
		resp_error(r, 403, "The form was stale or came from another site (CSRF check failed). "
		    "Reload the page and try again.");
		return -1;
	}
	return 0;
}

void
http_dispatch(struct req *r)
{
	const struct route *path_match = NULL;
	const struct route *rt = NULL;

	for (size_t i = 0; i < NROUTES; i++) {
		if (!match(r, &routes[i], r->path))
			continue;
		path_match = &routes[i];
		if (routes[i].methods & r->method) {
			rt = &routes[i];
			break;
		}
	}
	if (rt == NULL) {
		r->route = path_match;
		if (path_match) {
			struct buf allow = BUF_INIT;
			static const char *const names[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };
			for (int b = 0; b < 7; b++)
				if (path_match->methods & (1u << b))
					buf_printf(&allow, "%s%s", allow.len ? ", " : "", names[b]);
			resp_header(r, "Allow", "%s", allow.data ? allow.data : "");
			buf_free(&allow);
			resp_error(r, 405, "%s is not allowed here.", r->method_str);
		} else
			resp_error(r, 404, "There is no page at this address.");
		return;
	}
	r->route = rt;
	if (r->body_too_large && !(rt->flags & R_LATE_413)) {
		resp_error(r, 413, "The request body is larger than %d bytes.", LIMIT_BODY_MAX);
		return;
	}
	if (!(rt->flags & R_NODB) && db_ensure(r->db) != 0) {
		log_error(r->id, "database: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	/* Who is asking comes first: an anonymous client learns nothing about the body it sent. */
	if (gate(r, rt) != 0)
		return;
	if (req_validate_input(r, rt->flags) != 0)
		return;
	rt->fn(r);
}
