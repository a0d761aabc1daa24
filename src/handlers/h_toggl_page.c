/* h_toggl_page.c: GET /toggl — the Toggl connection, the API token (write-only), the workspaces with their
 * webhook status, history imports with their progress, and the latest Toggl jobs — and its POSTs. Nothing
 * here calls Toggl: every action queues a job through the Toggl side's *_enqueue() functions (toggl.h), and
 * the page shows the job's state when it is loaded again. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "handlers/handlers.h"
#include "handlers/page.h"
#include "toggl/toggl.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/tbtime.h"

struct toggl_page {
	struct req *r;
	int64_t     uid;
	char        uids[DB_I64_LEN];
	const char *error;
	PGresult   *acct, *quota, *ws, *imports, *jobs;
	char        since[16], until[16];
};

/* The quota budgets as one line for the card, or NULL. Arena-owned. */
static const char *
quota_text(struct toggl_page *p)
{
	struct buf b = BUF_INIT;
	const char *out = NULL;

	for (int i = 0; p->quota && i < PQntuples(p->quota); i++) {
		PGresult *q = p->quota;
		char when[48];
		const char *org = db_str(q, i, 3), *plan = db_str(q, i, 4);
		buf_puts(&b, b.len ? " · " : "Quota: ");
		if (strcmp(db_str(q, i, 0), "user") == 0)
			buf_puts(&b, "your own requests");
		else
			buf_printf(&b, "%s%s%s%s", org ? org : db_str(q, i, 0), plan ? " (" : "", plan ? plan : "",
			    plan ? ")" : "");
		if (db_i64(q, i, 2) <= 0)
			buf_puts(&b, " renewed");
		else if (db_i64(q, i, 1) < 0)
			buf_puts(&b, " not limited");
		else {
			page_ago(when, sizeof(when), -db_i64(q, i, 2));
			buf_printf(&b, " %" PRId64 " left, renews %s", db_i64(q, i, 1), when);
		}
	}
	if (b.len)
		out = arena_strdup(&p->r->arena, b.data);
	buf_free(&b);
	return out;
}

/* The connection, as the status card shows it. */
static int
status_card(struct tmpl_ctx *ctx, struct toggl_page *p)
{
	struct page_card c = { "muted", "Not connected", "No Toggl account yet",
		"Paste your API token to connect: a background job checks it and fetches your workspaces.", NULL, NULL,
		NULL };
	PGresult *a = p->acct, *j = p->jobs;
	char when[48];

	c.href = arena_printf(&p->r->arena, "/jobs?user=%s", p->uids);
	c.action = "Toggl jobs";
	c.extra = quota_text(p);
	/* The newest toggl.connect job says what is happening to a token just given. */
	for (int i = 0; j && i < PQntuples(j); i++) {
		const char *st = db_str(j, i, 2);
		if (strcmp(db_str(j, i, 1), "toggl.connect") != 0)
			continue;
		if (strcmp(st, "queued") == 0 || strcmp(st, "running") == 0 || strcmp(st, "failed") == 0) {
			c.badge_kind = "info", c.badge = "Checking";
			c.title = "Checking the token with Toggl…";
			c.detail = db_str(j, i, 4) ? db_str(j, i, 4) : "This page shows the result when you reload it.";
			goto render;
		}
		if ((strcmp(st, "dead") == 0 || strcmp(st, "paused") == 0) && (a == NULL || PQntuples(a) == 0)) {
			c.badge_kind = "bad", c.badge = "Refused";
			c.title = "Toggl did not accept the token";
			c.detail = db_str(j, i, 4) ? db_str(j, i, 4) : "Check it on your Toggl profile page and paste it again.";
			goto render;
		}
		break;
	}
	if (a && PQntuples(a) == 1) {
		c.title = *db_str(a, 0, 3) ? db_str(a, 0, 3) : db_str(a, 0, 2) ? db_str(a, 0, 2) : "Toggl account";
		if (strcmp(db_str(a, 0, 0), "ok") != 0) {
			c.badge_kind = "bad", c.badge = "Token refused";
			c.detail = db_str(a, 0, 1) ? db_str(a, 0, 1) : "Toggl refuses the stored token: paste the current one.";
		} else if (!db_isnull(a, 0, 7) && db_i64(a, 0, 7) > 0) {
			page_ago(when, sizeof(when), -db_i64(a, 0, 7));
			c.badge_kind = "warn", c.badge = "Rate limited";
			c.detail = arena_printf(&p->r->arena, "Toggl asked for a pause; calls resume %s.", when);
		} else {
			c.badge_kind = "ok", c.badge = "Connected";
			if (!db_isnull(a, 0, 8))
				page_when(when, sizeof(when), db_i64(a, 0, 8), db_str(a, 0, 9));
			c.detail = arena_printf(&p->r->arena, "%s · time zone %s · last reconciliation %s",
			    db_str(a, 0, 2) ? db_str(a, 0, 2) : "", db_str(a, 0, 4), db_isnull(a, 0, 8) ? "not yet" : when);
		}
	}
render:
	return page_status_card(ctx, &c);
}

struct ws_row {
	struct toggl_page *p;
	int                i;
};

static int
ws_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct ws_row *w = arg;
	struct toggl_page *p = w->p;
	PGresult *ws = p->ws;
	int i = w->i, has = !db_isnull(ws, i, 2);
	const char *wid = db_str(ws, i, 0);

	if (key == TK_TWS_BADGE)
		return page_webhook_badge(ctx, ws, i);
	if (key == TK_TWS_ACTIONS) {
		struct page_btn setup = { "/toggl/webhook/setup", page_scope_param(p->r, p->uid), "/toggl", "workspace",
			wid, has ? "Refresh" : "Set up", has ? "secondary" : "primary",
			has ? "Check the subscription with Toggl and repair it (e.g. a changed URL)" :
			"Create a webhook subscription so entries arrive within seconds" };
		struct page_btn rm = { "/toggl/webhook/remove", page_scope_param(p->r, p->uid), "/toggl", "workspace",
			wid, "Remove", "danger", "Remove the webhook? Entries then arrive only with reconciliation." };
		if (page_button(ctx, p->r, &setup) != 0)
			return -1;
		return has ? page_button(ctx, p->r, &rm) : 0;
	}
	return 0;
}

static int
ws_rows(struct tmpl_ctx *ctx, struct toggl_page *p)
{
	struct req *r = p->r;

	if (PQntuples(p->ws) == 0)
		return page_empty_row(ctx, "No workspaces yet. They appear once the token is verified.");
	for (int i = 0; i < PQntuples(p->ws); i++) {
		struct ws_row w = { p, i };
		struct page_row row;
		struct buf detail = BUF_INIT;
		char last[64];
		memset(&row, 0, sizeof(row));
		page_webhook_last(last, sizeof(last), p->ws, i);
		if (!db_isnull(p->ws, i, 8) && *db_str(p->ws, i, 8))
			buf_printf(&detail, "events: %s", db_str(p->ws, i, 8));
		if (!db_isnull(p->ws, i, 10))
			buf_printf(&detail, "%splan %s", detail.len ? " · " : "", db_str(p->ws, i, 10));
		if (db_bool(p->ws, i, 9))
			buf_printf(&detail, "%severyone's entries", detail.len ? " · " : "");
		row.v[TK_TWS_ID] = db_str(p->ws, i, 0);
		row.v[TK_TWS_NAME] = *db_str(p->ws, i, 1) ? db_str(p->ws, i, 1) : "(name not fetched yet)";
		row.v[TK_TWS_LAST] = arena_strdup(&r->arena, last);
		row.v[TK_TWS_DETAIL] = detail.len ? arena_strdup(&r->arena, detail.data) : "";
		buf_free(&detail);
		row.nest = ws_nest;
		row.arg = &w;
		if (page_nest_row(ctx, TMPL_TWS, &row) != 0)
			return -1;
	}
	return 0;
}

/* Percent done of an import: 100 when finished, else the running job's progress "percent". */
static double
import_pct(PGresult *im, int i)
{
	json_t *o, *v;
	double pct = 0;

	if (strcmp(db_str(im, i, 2), "done") == 0)
		return 100;
	if (db_isnull(im, i, 12) || (o = json_loads(db_str(im, i, 12), 0, NULL)) == NULL)
		return 0;
	if ((v = json_object_get(o, "percent")) != NULL && json_is_number(v))
		pct = json_number_value(v);
	json_decref(o);
	return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

struct import_row {
	PGresult *im;
	int       i;
};

static int
import_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct import_row *ir = arg;
	const char *st = db_str(ir->im, ir->i, 2);

	if (key == TK_IMPORT_BADGE)
		return page_badge(ctx, strcmp(st, "running") == 0 ? "run" : strcmp(st, "done") == 0 ? "ok" : "bad", st);
	return 0;
}

static int
queued_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	(void)arg;
	return key == TK_IMPORT_BADGE ? page_badge(ctx, "info", "queued") : 0;
}

static int
import_rows(struct tmpl_ctx *ctx, struct toggl_page *p)
{
	struct req *r = p->r;
	PGresult *im = p->imports;
	int shown = 0;

	/* An import asked for but not started yet has a job and no run row. */
	for (int i = 0; p->jobs && i < PQntuples(p->jobs); i++) {
		PGresult *j = p->jobs;
		struct page_row row;
		json_t *pl;
		if (strcmp(db_str(j, i, 1), "toggl.import") != 0 || strcmp(db_str(j, i, 2), "queued") != 0)
			continue;
		pl = json_loads(db_str(j, i, 8), 0, NULL);
		memset(&row, 0, sizeof(row));
		row.v[TK_IMPORT_RANGE] = arena_printf(&r->arena, "%s – %s",
		    json_string_value(json_object_get(pl, "since")) ? json_string_value(json_object_get(pl, "since")) : "?",
		    json_string_value(json_object_get(pl, "until")) ? json_string_value(json_object_get(pl, "until")) :
		    "today");
		json_decref(pl);
		row.v[TK_IMPORT_PCT] = "0";
		row.v[TK_IMPORT_COUNTS] = db_str(j, i, 4) ? db_str(j, i, 4) : "waiting for a worker";
		row.v[TK_IMPORT_WHEN] = db_str(j, i, 7);
		row.nest = queued_nest;
		if (page_nest_row(ctx, TMPL_IMPORT, &row) != 0)
			return -1;
		shown++;
	}
	for (int i = 0; i < PQntuples(im); i++) {
		struct import_row ir = { im, i };
		struct page_row row;
		char when[48];
		memset(&row, 0, sizeof(row));
		page_when(when, sizeof(when), db_i64(im, i, 9), db_str(im, i, 10));
		row.v[TK_IMPORT_RANGE] = arena_printf(&r->arena, "%s – %s", db_str(im, i, 0), db_str(im, i, 1));
		row.v[TK_IMPORT_PCT] = arena_printf(&r->arena, "%.0f", import_pct(im, i));
		row.v[TK_IMPORT_COUNTS] = db_str(im, i, 8) && strcmp(db_str(im, i, 2), "done") != 0 ?
		    arena_printf(&r->arena, "%s fetched · %s", db_str(im, i, 3), db_str(im, i, 8)) :
		    arena_printf(&r->arena, "%s fetched, %s new, %s updated, %s unchanged, %s deleted", db_str(im, i, 3),
		    db_str(im, i, 4), db_str(im, i, 5), db_str(im, i, 6), db_str(im, i, 7));
		row.v[TK_IMPORT_WHEN] = arena_strdup(&r->arena, when);
		row.nest = import_nest;
		row.arg = &ir;
		if (page_nest_row(ctx, TMPL_IMPORT, &row) != 0)
			return -1;
		shown++;
	}
	return shown ? 0 : page_empty_row(ctx, "No imports yet.");
}

struct jmini {
	PGresult *j;
	int       i;
};

static int
jmini_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct jmini *m = arg;
	const char *st = db_str(m->j, m->i, 2);

	return key == TK_JMINI_BADGE ? page_badge(ctx, page_state_kind(st), st) : 0;
}

static int
job_items(struct tmpl_ctx *ctx, struct toggl_page *p)
{
	struct req *r = p->r;

	if (PQntuples(p->jobs) == 0)
		return page_muted(ctx, "No Toggl jobs yet.");
	for (int i = 0; i < PQntuples(p->jobs); i++) {
		struct jmini m = { p->jobs, i };
		struct page_row row;
		char when[48];
		memset(&row, 0, sizeof(row));
		page_when(when, sizeof(when), db_i64(p->jobs, i, 6), db_str(p->jobs, i, 7));
		row.v[TK_JMINI_KIND] = db_str(p->jobs, i, 1);
		row.v[TK_JMINI_WHEN] = arena_strdup(&r->arena, when);
		row.v[TK_JMINI_DETAIL] = db_str(p->jobs, i, 4);
		row.nest = jmini_nest;
		row.arg = &m;
		if (page_nest_row(ctx, TMPL_JMINI, &row) != 0)
			return -1;
	}
	return 0;
}

static int
toggl_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct toggl_page *p = arg;
	struct req *r = p->r;
	const char *tok;

	switch (key) {
	case TK_TOGGL_CSRF:
		if ((tok = session_csrf_token(r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case TK_TOGGL_UID:
		tmpl_put(ctx, page_scope_param(r, p->uid));
		return 0;
	case TK_TOGGL_ERROR:
		return page_form_error(ctx, p->error);
	case TK_TOGGL_USER:
		return page_scope_form(ctx, r, "/toggl", p->uid, 0);
	case TK_TOGGL_STATUS:
		return status_card(ctx, p);
	case TK_TOGGL_QUOTA:
		return 0;   /* part of the status card */
	case TK_TOGGL_TOKEN_STATE:
		tmpl_put(ctx, PQntuples(p->acct) == 1 && db_bool(p->acct, 0, 10) ?
		    "•••••••••••• (stored; paste a new one to replace it)" : "Paste your API token");
		return 0;
	case TK_TOGGL_WORKSPACES:
		return ws_rows(ctx, p);
	case TK_TOGGL_IMPORTS:
		return import_rows(ctx, p);
	case TK_TOGGL_JOBS:
		return job_items(ctx, p);
	case TK_TOGGL_SINCE:
		tmpl_put(ctx, p->since);
		return 0;
	case TK_TOGGL_UNTIL:
		tmpl_put(ctx, p->until);
		return 0;
	default:
		return 0;
	}
}

static void
show(struct req *r, int status, struct toggl_page *p)
{
	const char *tz = r->user.time_zone;
	int64_t today = tb_now_ms() / 86400000, y;
	char recent[16];
	int m, d;

	p->r = r;
	snprintf(recent, sizeof(recent), "%d", LIMIT_RECENT_ROWS);
	db_i64s(p->uid, p->uids);
	/* The import form suggests the last 90 days. */
	tb_civil_from_days(today - 90, &y, &m, &d);
	snprintf(p->since, sizeof(p->since), "%04d-%02d-%02d", (int)y, m, d);
	tb_civil_from_days(today, &y, &m, &d);
	snprintf(p->until, sizeof(p->until), "%04d-%02d-%02d", (int)y, m, d);
	if ((p->acct = DB_EXEC(r->db, STMT_ADMIN_TOGGL_ACCOUNT, p->uids, tz)) == NULL ||
	    (p->quota = DB_EXEC(r->db, STMT_ADMIN_TOGGL_QUOTA, p->uids)) == NULL ||
	    (p->ws = DB_EXEC(r->db, STMT_ADMIN_WORKSPACES, p->uids, tz)) == NULL ||
	    (p->imports = DB_EXEC(r->db, STMT_ADMIN_IMPORTS, p->uids, tz, recent)) == NULL ||
	    (p->jobs = DB_EXEC(r->db, STMT_ADMIN_USER_JOBS, p->uids, "toggl.%", tz, recent)) == NULL) {
		log_error(r->id, "toggl page: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		goto out;
	}
	page_render(r, status, "Toggl", "toggl", PAGE_NAV_TOGGL, TMPL_TOGGL, toggl_cb, p);
out:
	PQclear(p->acct);
	PQclear(p->quota);
	PQclear(p->ws);
	PQclear(p->imports);
	PQclear(p->jobs);
}

void
h_toggl_page(struct req *r)
{
	struct toggl_page p;

	memset(&p, 0, sizeof(p));
	p.uid = page_scope(r, 0, 0);
	show(r, 200, &p);
}

/* The user the POST acts for (an admin may act for the user whose page they look at). */
static int64_t
target(struct req *r)
{
	return page_scope(r, 0, 0);
}

static const char *
back_for(struct req *r, int64_t uid)
{
	return uid == r->user.id ? "/toggl" : arena_printf(&r->arena, "/toggl?user=%" PRId64, uid);
}

void
h_toggl_token(struct req *r)
{
	int64_t uid = target(r);
	const char *token = req_form(r, "token");
	char err[256], *copy = NULL;
	struct toggl_page p;
	size_t n;

	memset(&p, 0, sizeof(p));
	p.uid = uid;
	/* Surrounding blanks come from copy and paste; anything else odd is the Toggl side's to refuse. */
	if (token) {
		while (*token == ' ' || *token == '\t')
			token++;
		n = strlen(token);
		while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\t' || token[n - 1] == '\r' || token[n - 1] == '\n'))
			n--;
		copy = arena_strndup(&r->arena, token, n);
	}
	if (copy == NULL || *copy == '\0') {
		p.error = "Paste the API token from your Toggl profile page.";
		show(r, 400, &p);
		goto out;
	}
	if (toggl_connect_enqueue(r->db, uid, copy, err, sizeof(err)) != 0) {
		if (strncmp(err, "database", 8) == 0) {
			log_error(r->id, "toggl token: %s", err);
			resp_error(r, 503, "The database is unavailable; the token was not saved.");
		} else {
			p.error = arena_printf(&r->arena, "That does not look like a Toggl API token: %s.", err);
			show(r, 400, &p);
		}
		goto out;
	}
	page_audit(r, "toggl.token", arena_printf(&r->arena, "{\"user_id\": %" PRId64 "}", uid));
	page_done(r, back_for(r, uid), PAGE_FLASH_OK, "Token saved, encrypted. A background job is checking it with "
	    "Toggl; reload this page in a moment to see the result.");
out:
	if (copy)
		crypto_wipe(copy, strlen(copy));
	if (token)
		page_wipe(req_form(r, "token"), strlen(req_form(r, "token")));
	if (r->body)
		page_wipe(r->body, r->body_len);
}

/* The workspace a webhook POST names, if the user may act on it; 0 otherwise (answered already). */
static int64_t
workspace_of(struct req *r, int64_t uid)
{
	int64_t wid = page_id(req_form(r, "workspace"));
	char u[DB_I64_LEN], w[DB_I64_LEN];
	PGresult *res;
	int ok;

	if (wid <= 0) {
		page_done(r, back_for(r, uid), PAGE_FLASH_ERROR, "No workspace was named.");
		return 0;
	}
	if ((res = DB_EXEC(r->db, STMT_ADMIN_WORKSPACE_OWNED, db_i64s(uid, u), db_i64s(wid, w))) == NULL) {
		log_error(r->id, "workspace check: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; nothing was queued.");
		return 0;
	}
	ok = db_bool(res, 0, 0);
	PQclear(res);
	if (!ok) {
		page_done(r, back_for(r, uid), PAGE_FLASH_ERROR, "Workspace %" PRId64 " is not one of this account's.", wid);
		return 0;
	}
	return wid;
}

static void
webhook(struct req *r, const char *kind)
{
	int64_t uid = target(r), wid;

	if ((wid = workspace_of(r, uid)) == 0)
		return;
	if (toggl_webhook_enqueue(r->db, uid, wid, kind) != 0) {
		log_error(r->id, "%s: %s", kind, r->db->err);
		resp_error(r, 503, "The database is unavailable; nothing was queued.");
		return;
	}
	page_audit(r, kind, arena_printf(&r->arena, "{\"user_id\": %" PRId64 ", \"workspace_id\": %" PRId64 "}", uid,
	    wid));
	page_done(r, back_for(r, uid), PAGE_FLASH_OK, strcmp(kind, "toggl.webhook_setup") == 0 ?
	    "Webhook setup queued for workspace %" PRId64 ": Toggl checks our address first; reload in a moment." :
	    "Webhook removal queued for workspace %" PRId64 ".", wid);
}

void
h_toggl_webhook_setup(struct req *r)
{
	webhook(r, "toggl.webhook_setup");
}

void
h_toggl_webhook_remove(struct req *r)
{
	webhook(r, "toggl.webhook_remove");
}

void
h_toggl_refresh(struct req *r)
{
	int64_t uid = target(r);

	if (toggl_metadata_request(r->db, uid) != 0) {
		log_error(r->id, "metadata request: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; nothing was queued.");
		return;
	}
	page_done(r, back_for(r, uid), PAGE_FLASH_OK, "A refresh of workspaces, projects, clients and tags is queued; "
	    "it runs within %d seconds.", LIMIT_TOGGL_METADATA_DELAY_S);
}

void
h_toggl_reconcile(struct req *r)
{
	int64_t uid = target(r);

	if (toggl_reconcile_enqueue(r->db, uid) != 0) {
		log_error(r->id, "reconcile request: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; nothing was queued.");
		return;
	}
	page_audit(r, "toggl.reconcile", arena_printf(&r->arena, "{\"user_id\": %" PRId64 "}", uid));
	page_done(r, back_for(r, uid), PAGE_FLASH_OK, "Reconciliation queued: changes made in Toggl since the last "
	    "pull will be applied.");
}

void
h_toggl_import(struct req *r)
{
	int64_t uid = target(r);
	const char *since = req_form(r, "since"), *until = req_form(r, "until");
	char err[256];
	struct toggl_page p;
	int y, m, d;

	memset(&p, 0, sizeof(p));
	p.uid = uid;
	if (since == NULL || tb_parse_date(since, &y, &m, &d) != 0 ||
	    (until && *until && tb_parse_date(until, &y, &m, &d) != 0)) {
		p.error = "Give the import's first day (and optionally its last) as dates.";
		show(r, 400, &p);
		return;
	}
	if (until && *until) {
		int y0, m0, d0;
		if (tb_parse_date(since, &y0, &m0, &d0) == 0 &&
		    tb_days_from_civil(y, m, d) - tb_days_from_civil(y0, m0, d0) > LIMIT_IMPORT_DAYS_MAX) {
			p.error = arena_printf(&r->arena, "Import at most %d days at a time.", LIMIT_IMPORT_DAYS_MAX);
			show(r, 400, &p);
			return;
		}
	}
	if (toggl_import_enqueue(r->db, uid, since, until && *until ? until : NULL, err, sizeof(err)) != 0) {
		if (strncmp(err, "database", 8) == 0) {
			log_error(r->id, "import: %s", err);
			resp_error(r, 503, "The database is unavailable; nothing was queued.");
		} else {
			p.error = arena_printf(&r->arena, "The import was not queued: %s.", err);
			show(r, 400, &p);
		}
		return;
	}
	page_audit(r, "toggl.import", arena_printf(&r->arena, "{\"user_id\": %" PRId64 "}", uid));
	page_done(r, back_for(r, uid), PAGE_FLASH_OK, "Import queued from %s to %s; its progress shows below.", since,
	    until && *until ? until : "today");
}
