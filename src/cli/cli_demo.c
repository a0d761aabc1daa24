/* cli_demo.c: `timebridge demo setup`, what `./dev run --demo` calls once the app is up. It refuses to run
 * unless Toggl (and Google, when configured) are the local fakes of tests/fakes, then connects a demo user
 * through the real paths:
 *   1. a timebridge user demo@timebridge.local with a fresh random password (printed once);
 *   2. a Toggl user in the fake (control API) with a workspace, projects and a month of history;
 *   3. Toggl connected with that user's token (toggl_connect, as `timebridge toggl connect` does), and the
 *      webhook subscription created (toggl_webhook_setup: the fake pings our public URL, which must answer);
 *   4. Google connected by the real OAuth round trip, driven from here: the fake's consent is set to
 *      answer "allow" by itself, then start → consent → callback are fetched with a session of the demo
 *      user, exactly as a browser would; afterwards the consent page is back, so Reconnect shows it;
 *   5. the month of history imported by a toggl.import job (its progress shows on the Toggl page);
 *   6. the fake's demo "person" started: starts, stops, edits and deletes arrive as signed webhooks.
 * Every outbound call goes through the one HTTP client, and only to loopback. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/http_client.h"
#include "cli/cli.h"
#include "http/http.h"
#include "toggl/toggl.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/tbtime.h"

#define DEMO_EMAIL        "demo@timebridge.local"
#define DEMO_TOGGL_USER   1001
#define DEMO_WORKSPACE    5001
#define DEMO_ORG          9001
#define DEMO_GOOGLE_EMAIL "demo@example.com"
#define DEMO_HISTORY_DAYS 30
#define DEMO_ENTRIES      150
#define DEMO_INTERVAL_MS  3000    /* the fake person's pace: something happens every few seconds */
#define DEMO_REDIRECTS    5       /* hops of the OAuth round trip we follow */

static const struct { const char *name, *color; } projects[] = {
	{ "Website redesign", "#0b83d9" }, { "Northwind onboarding", "#d94182" }, { "Internal tooling", "#2da608" },
	{ "Research", "#e36a00" }, { "Support", "#9e5bd9" },
};

/* A loopback http base, so the demo can never touch a real service. */
static int
loopback(const char *url)
{
	return url != NULL && (strncmp(url, "http://127.", 11) == 0 || strncmp(url, "http://localhost:", 17) == 0 ||
	    strncmp(url, "http://[::1]:", 13) == 0);
}

/* The fake's base URL from the Google auth URL (".../o/oauth2/v2/auth"). */
static char *
google_base(void)
{
	const char *auth = config_get()->google_auth_url, *cut;

	struct buf b = BUF_INIT;

	if (auth == NULL || (cut = strstr(auth, "/o/oauth2/")) == NULL)
		return NULL;
	buf_append(&b, auth, (size_t)(cut - auth));
	return buf_steal(&b);
}

/* One call to a fake's control API (JSON in, JSON out). Returns the parsed answer (new reference) or NULL
 * with a message on stderr. */
static json_t *
control(struct http_client *h, const char *base, const char *method, const char *path, json_t *body)
{
	struct http_request rq = { 0 };
	struct http_response rs;
	char *url = NULL, *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t *out = NULL;
	enum http_err e;

	{
		struct buf b = BUF_INIT;
		buf_puts(&b, base);
		buf_puts(&b, path);
		url = buf_steal(&b);
	}
	rq.method = method;
	rq.url = url;
	rq.content_type = text ? "application/json" : NULL;
	rq.body = text;
	rq.body_len = text ? strlen(text) : 0;
	rq.log_ctx = "demo";
	if (url == NULL) {
		fprintf(stderr, "timebridge: demo: out of memory\n");
		goto out;
	}
	if ((e = http_do(h, &rq, &rs)) != HTTP_OK || rs.status < 200 || rs.status > 299) {
		fprintf(stderr, "timebridge: demo: %s %s: %s\n", method, url, e != HTTP_OK ? http_strerror(e) :
		    rs.body.data ? rs.body.data : "no answer");
		http_response_free(&rs);
		goto out;
	}
	out = rs.body.len ? json_loads(rs.body.data, 0, NULL) : json_object();
	if (out == NULL)
		fprintf(stderr, "timebridge: demo: %s %s: the answer is not JSON\n", method, url);
	http_response_free(&rs);
out:
	free(url);
	free(text);
	json_decref(body);
	return out;
}

/* The demo user, created or with a new password. Prints the login. */
static int64_t
demo_user(struct cli *c)
{
	char pw[64], hash[256], uid[DB_I64_LEN];
	int64_t id = -1;
	PGresult *r;

	if (crypto_token(pw, sizeof(pw), 15) != 0 || crypto_password_hash(pw, hash, sizeof(hash)) != 0) {
		fprintf(stderr, "timebridge: demo: cannot make a password\n");
		goto out;
	}
	if ((r = DB_EXEC(&c->db, STMT_USER_BY_EMAIL, DEMO_EMAIL)) == NULL)
		goto dberr;
	if (PQntuples(r) == 1) {
		id = db_i64(r, 0, 0);
		PQclear(r);
		if (DB_RUN(&c->db, STMT_USER_SET_PASSWORD, db_i64s(id, uid), hash) != 0)
			goto dberr;
	} else {
		PQclear(r);
		if ((r = DB_EXEC(&c->db, STMT_USER_INSERT, DEMO_EMAIL, hash, "false")) == NULL)
			goto dberr;
		id = db_i64(r, 0, 0);
		PQclear(r);
	}
	printf("demo: log in as %s with the password %s\n", DEMO_EMAIL, pw);
	goto out;
dberr:
	fprintf(stderr, "timebridge: demo: %s\n", c->db.err);
	id = -1;
out:
	crypto_wipe(pw, sizeof(pw));
	crypto_wipe(hash, sizeof(hash));
	return id;
}

static void
date_days_ago(int days, char out[16])
{
	int64_t y;
	int m, d;

	tb_civil_from_days(tb_now_ms() / 86400000 - days, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d-%02d", (int)y, m, d);
}

/* The Toggl side of the fake: the person, their workspace, projects and a month of finished entries. */
static int
seed_toggl(struct http_client *h, const char *base, const char *token)
{
	char since[16], until[16];
	json_t *r;

	r = control(h, base, "POST", "/_control/users", json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:s, "
	    "s:[{s:i, s:s, s:i}]}", "api_token", token, "id", DEMO_TOGGL_USER, "email", "dana@demo.example",
	    "fullname", "Dana Demo", "timezone", "UTC", "default_workspace_id", DEMO_WORKSPACE, "organization_id",
	    DEMO_ORG, "plan", "starter", "workspaces", "id", DEMO_WORKSPACE, "name", "Demo Studio",
	    "organization_id", DEMO_ORG));
	if (r == NULL)
		return -1;
	json_decref(r);
	for (size_t i = 0; i < sizeof(projects) / sizeof(projects[0]); i++) {
		if ((r = control(h, base, "POST", "/_control/projects", json_pack("{s:s, s:i, s:i, s:s, s:s}", "action",
		    "create", "user_id", DEMO_TOGGL_USER, "workspace_id", DEMO_WORKSPACE, "name", projects[i].name, "color",
		    projects[i].color))) == NULL)
			return -1;
		json_decref(r);
	}
	date_days_ago(DEMO_HISTORY_DAYS, since);
	date_days_ago(0, until);
	r = control(h, base, "POST", "/_control/bulk_entries", json_pack("{s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:i}",
	    "user_id", DEMO_TOGGL_USER, "count", DEMO_ENTRIES, "start", since, "end", until, "seed", 6, "workspace_id",
	    DEMO_WORKSPACE, "projects", (int)(sizeof(projects) / sizeof(projects[0])), "tags", 4));
	if (r == NULL)
		return -1;
	json_decref(r);
	return 0;
}

/* An absolute URL for a Location header that may be a path on base_url's origin. Caller frees; NULL for
 * anything else. */
static char *
absolute(const char *loc, const char *base_url)
{
	struct buf b = BUF_INIT;
	const char *p;
	size_t origin;

	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return strdup(loc);
	if (loc[0] != '/')
		return NULL;
	p = strstr(base_url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	origin = p ? (size_t)(p - base_url) : strlen(base_url);
	buf_append(&b, base_url, origin);
	buf_puts(&b, loc);
	return buf_steal(&b);
}

/* The OAuth round trip a browser makes, with the demo user's session: our start → the fake's consent (set
 * to allow by itself) → our callback. 0 when it ends on /google. */
static int
oauth_round_trip(struct cli *c, struct http_client *h, int64_t uid)
{
	char tok[64], hash[2 * CRYPTO_SHA256_LEN + 1], ids[DB_I64_LEN], ttl[16], cookie[128];
	const char *public_url = config_get()->public_url;
	const char *hdrs[] = { cookie, NULL };
	char *url = NULL;
	int rc = -1;

	if (crypto_token(tok, sizeof(tok), LIMIT_TOKEN_BYTES) != 0)
		return -1;
	crypto_token_hash(tok, hash);
	snprintf(ttl, sizeof(ttl), "%d", 600);
	if (DB_RUN(&c->db, STMT_SESSION_INSERT, hash, db_i64s(uid, ids), ttl, "demo") != 0) {
		fprintf(stderr, "timebridge: demo: %s\n", c->db.err);
		goto out;
	}
	snprintf(cookie, sizeof(cookie), "Cookie: %s=%s", SESSION_COOKIE, tok);
	{
		struct buf b = BUF_INIT;
		buf_puts(&b, public_url);
		buf_puts(&b, "/oauth/google/start");
		if ((url = buf_steal(&b)) == NULL)
			goto out;
	}
	for (int hop = 0; hop < DEMO_REDIRECTS; hop++) {
		struct http_request rq = { 0 };
		struct http_response rs;
		const char *loc;
		char *next;
		enum http_err e;
		int ours = strncmp(url, public_url, strlen(public_url)) == 0;

		rq.url = url;
		rq.headers = ours ? hdrs : NULL;   /* the session cookie goes to timebridge only */
		rq.log_ctx = "demo";
		if ((e = http_do(h, &rq, &rs)) != HTTP_OK) {
			fprintf(stderr, "timebridge: demo: GET %s: %s\n", url, http_strerror(e));
			http_response_free(&rs);
			goto out;
		}
		loc = http_header(&rs, "Location");
		if (rs.status < 300 || rs.status > 399 || loc == NULL) {
			fprintf(stderr, "timebridge: demo: the Google consent round trip stopped at %s with %ld: %.200s\n",
			    url, rs.status, rs.body.data ? rs.body.data : "");
			http_response_free(&rs);
			goto out;
		}
		if (ours && strcmp(loc, "/google") == 0) {
			http_response_free(&rs);
			rc = 0;
			goto out;
		}
		next = absolute(loc, url);
		http_response_free(&rs);
		free(url);
		if ((url = next) == NULL || !loopback(url)) {
			fprintf(stderr, "timebridge: demo: refusing to follow a redirect off this machine\n");
			goto out;
		}
	}
	fprintf(stderr, "timebridge: demo: too many redirects in the Google consent round trip\n");
out:
	if (DB_RUN(&c->db, STMT_SESSION_DELETE, hash) != 0)
		fprintf(stderr, "timebridge: demo: %s\n", c->db.err);
	crypto_wipe(tok, sizeof(tok));
	crypto_wipe(cookie, sizeof(cookie));
	free(url);
	return rc;
}

static int
connect_google(struct cli *c, struct http_client *h, int64_t uid)
{
	char *base = google_base();
	json_t *r;
	int rc = -1;

	if (base == NULL || !loopback(base) || !loopback(config_get()->public_url)) {
		printf("demo: Google is not the local fake (or PUBLIC_URL is not local): connect it from the Google page\n");
		free(base);
		return 0;
	}
	/* An account of our own at the fake, and a consent that answers by itself for the round trip. */
	if ((r = control(h, base, "POST", "/_control/users", json_pack("{s:s, s:s, s:s}", "email", DEMO_GOOGLE_EMAIL,
	    "name", "Dana Demo", "timezone", "UTC"))) == NULL)
		goto out;
	json_decref(r);
	if ((r = control(h, base, "POST", "/_control/consent", json_pack("{s:s, s:s}", "email", DEMO_GOOGLE_EMAIL,
	    "auto", "allow"))) == NULL)
		goto out;
	json_decref(r);
	rc = oauth_round_trip(c, h, uid);
	/* The consent page is back for a Reconnect by hand, whatever happened. */
	if ((r = control(h, base, "POST", "/_control/consent", json_pack("{s:s, s:n}", "email", DEMO_GOOGLE_EMAIL,
	    "auto"))) != NULL)
		json_decref(r);
	if (rc == 0)
		printf("demo: Google Calendar connected (%s at the fake; the calendar is created by a job)\n",
		    DEMO_GOOGLE_EMAIL);
out:
	free(base);
	return rc;
}

int
cli_demo_setup(struct cli *c)
{
	const struct config *cf = config_get();
	struct http_client *h = NULL;
	struct toggl_sync s;
	char token[64], since[16], err[256];
	int opened = 0, rc = CLI_FAIL;
	enum toggl_rc tr;
	int64_t uid;
	json_t *r;

	memset(&s, 0, sizeof(s));
	token[0] = '\0';
	if (c->argc != 0) {
		fprintf(stderr, "usage: timebridge demo setup\n");
		return CLI_USAGE;
	}
	/* Only against the fakes: the control API answers there and nowhere else. */
	if (!loopback(cf->toggl_url)) {
		fprintf(stderr, "timebridge: demo: TIMEBRIDGE_TOGGL_URL must be the local fake Toggl "
		    "(tests/fakes/fake_toggl.py), not %s\n", cf->toggl_url ? cf->toggl_url : "unset");
		return CLI_CONFIG;
	}
	if ((h = http_client_new()) == NULL)
		return CLI_FAIL;
	if ((r = control(h, cf->toggl_url, "GET", "/_control/state", NULL)) == NULL) {
		fprintf(stderr, "timebridge: demo: %s does not answer like the fake Toggl\n", cf->toggl_url);
		rc = CLI_CONFIG;
		goto out;
	}
	json_decref(r);
	if (cli_db(c) != 0 || (uid = demo_user(c)) < 0)
		goto out;
	if (crypto_token(token, sizeof(token), 24) != 0 || seed_toggl(h, cf->toggl_url, token) != 0)
		goto out;
	printf("demo: the fake Toggl has Dana Demo (workspace Demo Studio, %d entries over %d days)\n", DEMO_ENTRIES,
	    DEMO_HISTORY_DAYS);

	/* Toggl, as `timebridge toggl connect` and `timebridge webhook setup` do it. */
	tr = toggl_sync_open_token(&s, &c->db, h, uid, token, "demo", 30);
	opened = 1;
	if (tr != TOGGL_OK || (tr = toggl_connect(&s, 1)) != TOGGL_OK) {
		fprintf(stderr, "timebridge: demo: connecting Toggl: %s\n", s.err);
		goto out;
	}
	printf("demo: Toggl connected (%ld workspace, %ld projects)\n", s.n_workspaces, s.n_projects);
	if ((tr = toggl_webhook_setup(&s, DEMO_WORKSPACE, NULL)) != TOGGL_OK) {
		fprintf(stderr, "timebridge: demo: setting up the webhook: %s\n", s.err);
		goto out;
	}
	printf("demo: webhook subscribed: the fake Toggl now posts signed events to %s/webhook/toggl/…\n",
	    cf->public_url);

	if (connect_google(c, h, uid) != 0)
		goto out;

	date_days_ago(DEMO_HISTORY_DAYS + 1, since);
	if (toggl_import_enqueue(&c->db, uid, since, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "timebridge: demo: queueing the import: %s\n", err);
		goto out;
	}
	printf("demo: history import queued from %s (watch it on the Toggl page)\n", since);
	if ((r = control(h, cf->toggl_url, "POST", "/_control/demo", json_pack("{s:i, s:i, s:i}", "user_id",
	    DEMO_TOGGL_USER, "interval_ms", DEMO_INTERVAL_MS, "seed", 42))) == NULL)
		goto out;
	json_decref(r);
	printf("demo: the fake Toggl's demo person is at work: a change every ~%d s\n", DEMO_INTERVAL_MS / 1000);
	rc = CLI_OK;
out:
	if (opened)
		toggl_sync_close(&s);
	http_client_free(h);
	crypto_wipe(token, sizeof(token));
	return rc;
}
