/* h_dashboard.c: GET / — is time flowing? The Toggl connection and its quota, the last webhook per
 * workspace, the Google connection, the job queue, and hours per day by project as a server-drawn chart.
 * Reads only the database: nothing here calls Toggl or Google. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "handlers/handlers.h"
#include "handlers/page.h"
#include "handlers/svg_chart.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/tbtime.h"

struct dash {
	struct req       *r;
	int64_t           uid;
	char              uids[DB_I64_LEN];
	const char       *tz;
	PGresult         *toggl;      /* STMT_ADMIN_TOGGL_ACCOUNT */
	PGresult         *quota;      /* STMT_ADMIN_TOGGL_QUOTA */
	PGresult         *connect;    /* the latest toggl.connect job (STMT_ADMIN_USER_JOBS) */
	PGresult         *ws;         /* STMT_ADMIN_WORKSPACES */
	PGresult         *google;     /* STMT_ADMIN_GOOGLE_ACCOUNT */
	PGresult         *mirror;     /* STMT_GOOGLE_MIRROR_COUNTS */
	PGresult         *jobs;       /* STMT_JOB_COUNT_BY_STATE */
	long              failures, mirrored;
	struct svg_chart  chart;
	char              range[64];
};

/* "Your requests: 27 left (resets in 40 min) · Acme (Starter): 230 left" from the quota rows. */
static const char *
quota_text(struct req *r, PGresult *q)
{
	struct buf b = BUF_INIT;
	const char *out;

	for (int i = 0; q && i < PQntuples(q); i++) {
		char when[48];
		int64_t resets = db_i64(q, i, 2);
		const char *bucket = db_str(q, i, 0), *org = db_str(q, i, 3), *plan = db_str(q, i, 4);
		if (b.len)
			buf_puts(&b, " · ");
		if (strcmp(bucket, "user") == 0)
			buf_puts(&b, "Your requests");
		else if (org && *org)
			buf_printf(&b, "%s%s%s%s", org, plan ? " (" : "", plan ? plan : "", plan ? ")" : "");
		else
			buf_printf(&b, "%s", bucket);
		if (resets <= 0) {
			buf_puts(&b, ": budget renewed");
			continue;
		}
		page_ago(when, sizeof(when), -resets);
		/* Toggl sends negative numbers when a budget is not enforced. */
		if (db_i64(q, i, 1) < 0)
			buf_printf(&b, ": not limited");
		else
			buf_printf(&b, ": %" PRId64 " left, renews %s", db_i64(q, i, 1), when);
	}
	out = b.len ? arena_strdup(&r->arena, b.data) : NULL;
	buf_free(&b);
	return out;
}

static int
toggl_card(struct tmpl_ctx *ctx, struct dash *d)
{
	struct page_card c = { "muted", "Not connected", "Toggl is not connected",
		"Add your Toggl API token to start receiving your time entries.", NULL, "/toggl", "Connect Toggl" };
	PGresult *t = d->toggl;
	char when[48];

	if (t == NULL || PQntuples(t) == 0) {
		/* A token given on the Toggl page waits for its toggl.connect job. */
		if (d->connect && PQntuples(d->connect) == 1) {
			const char *st = db_str(d->connect, 0, 2);
			if (strcmp(st, "queued") == 0 || strcmp(st, "running") == 0 || strcmp(st, "failed") == 0) {
				c.badge_kind = "info", c.badge = "Connecting";
				c.title = "Checking the token with Toggl";
				c.detail = db_str(d->connect, 0, 4) ? db_str(d->connect, 0, 4) :
				    "A background job is verifying the token and fetching your workspaces.";
			} else if (strcmp(st, "dead") == 0) {
				c.badge_kind = "bad", c.badge = "Not connected";
				c.title = "The token was not accepted";
				c.detail = db_str(d->connect, 0, 4) ? db_str(d->connect, 0, 4) : "Toggl refused the token.";
				c.action = "Try another token";
			}
		}
		return page_status_card(ctx, &c);
	}
	c.title = *db_str(t, 0, 3) ? db_str(t, 0, 3) : db_str(t, 0, 2) ? db_str(t, 0, 2) : "Toggl account";
	c.extra = quota_text(d->r, d->quota);
	c.action = "Manage Toggl";
	if (strcmp(db_str(t, 0, 0), "ok") != 0) {
		c.badge_kind = "bad", c.badge = "Token refused";
		c.detail = db_str(t, 0, 1) ? db_str(t, 0, 1) :
		    "Toggl refused the API token (it was reset or lost access). Enter the current one.";
		c.action = "Replace the token";
	} else if (!db_isnull(t, 0, 7) && db_i64(t, 0, 7) > 0) {
		page_ago(when, sizeof(when), -db_i64(t, 0, 7));
		c.badge_kind = "warn", c.badge = "Rate limited";
		c.detail = arena_printf(&d->r->arena, "Toggl asked timebridge to slow down; calls resume %s.", when);
	} else {
		c.badge_kind = "ok", c.badge = "Connected";
		if (!db_isnull(t, 0, 8)) {
			page_when(when, sizeof(when), db_i64(t, 0, 8), db_str(t, 0, 9));
			c.detail = arena_printf(&d->r->arena, "%s%sLast reconciliation %s.", db_str(t, 0, 2) ?
			    db_str(t, 0, 2) : "", db_str(t, 0, 2) ? ". " : "", when);
		} else
			c.detail = db_str(t, 0, 2) ? db_str(t, 0, 2) : "";
	}
	return page_status_card(ctx, &c);
}

static int
google_card(struct tmpl_ctx *ctx, struct dash *d)
{
	struct page_card c = { "muted", "Not connected", "Google Calendar is not connected",
		"Connect it to mirror every time entry as an event.", NULL, "/google", "Connect Google" };
	PGresult *g = d->google;
	struct buf b = BUF_INIT;
	const char *st;
	int rc;

	if (g == NULL || PQntuples(g) == 0)
		return page_status_card(ctx, &c);
	st = db_str(g, 0, 0);
	c.title = arena_printf(&d->r->arena, "Calendar “%s”", db_str(g, 0, 3));
	c.action = "Manage Google";
	for (int i = 0; d->mirror && i < PQntuples(d->mirror); i++)
		buf_printf(&b, "%s%s %s", b.len ? ", " : "Mirror: ", db_str(d->mirror, i, 1), db_str(d->mirror, i, 0));
	c.extra = b.len ? arena_strdup(&d->r->arena, b.data) : NULL;
	buf_free(&b);
	if (strcmp(st, "needs_reconnect") == 0) {
		c.badge_kind = "bad", c.badge = "Needs reconnect";
		c.detail = db_str(g, 0, 1) ? db_str(g, 0, 1) : "Google no longer accepts timebridge's access.";
		c.detail = arena_printf(&d->r->arena, "%s Mirroring waits until you reconnect.", c.detail);
		c.action = "Reconnect";
	} else if (strcmp(st, "disconnecting") == 0) {
		c.badge_kind = "warn", c.badge = "Disconnecting";
		c.detail = "Revoking timebridge's access at Google.";
	} else if (!db_isnull(g, 0, 6) && db_i64(g, 0, 6) > 0) {
		char when[48];
		page_ago(when, sizeof(when), -db_i64(g, 0, 6));
		c.badge_kind = "warn", c.badge = "Backing off";
		c.detail = arena_printf(&d->r->arena, "Google asked timebridge to slow down; syncing resumes %s.", when);
	} else {
		c.badge_kind = "ok", c.badge = "Connected";
		if (db_isnull(g, 0, 2))
			c.detail = "Creating the calendar…";
		else if (!db_isnull(g, 0, 7)) {
			char when[48];
			page_ago(when, sizeof(when), db_i64(g, 0, 7));
			c.detail = arena_printf(&d->r->arena, "Last checked against Google %s.", when);
		} else
			c.detail = "Mirroring your entries.";
	}
	rc = page_status_card(ctx, &c);
	return rc;
}

struct ws_row {
	struct dash *d;
	int          i;
};

static int
ws_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct ws_row *w = arg;

	return key == TK_DWH_BADGE ? page_webhook_badge(ctx, w->d->ws, w->i) : 0;
}

static int
webhook_rows(struct tmpl_ctx *ctx, struct dash *d)
{
	if (d->ws == NULL || PQntuples(d->ws) == 0)
		return page_empty_row(ctx, "No workspaces yet: connect Toggl first.");
	for (int i = 0; i < PQntuples(d->ws); i++) {
		struct ws_row w = { d, i };
		struct page_row row;
		char last[64];
		memset(&row, 0, sizeof(row));
		page_webhook_last(last, sizeof(last), d->ws, i);
		row.v[TK_DWH_WORKSPACE] = *db_str(d->ws, i, 1) ? db_str(d->ws, i, 1) :
		    arena_printf(&d->r->arena, "Workspace %s", db_str(d->ws, i, 0));
		row.v[TK_DWH_LAST] = arena_strdup(&d->r->arena, last);
		row.nest = ws_nest;
		row.arg = &w;
		if (page_nest_row(ctx, TMPL_DWH, &row) != 0)
			return -1;
	}
	return 0;
}

static int
job_stats(struct tmpl_ctx *ctx, struct dash *d)
{
	static const char *const shown[] = { "queued", "running", "failed", "dead", "paused" };

	for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) {
		const char *count = "0";
		const char *v[TK_DJOB__MAX];
		for (int i = 0; d->jobs && i < PQntuples(d->jobs); i++)
			if (strcmp(db_str(d->jobs, i, 0), shown[k]) == 0)
				count = db_str(d->jobs, i, 1);
		v[TK_DJOB_HREF] = arena_printf(&d->r->arena, "/jobs?state=%s&user=%s", shown[k], d->uids);
		v[TK_DJOB_STATE] = shown[k];
		v[TK_DJOB_COUNT] = count;
		v[TK_DJOB_KIND] = strcmp(count, "0") == 0 ? "zero" : page_state_kind(shown[k]);
		if (page_nest_values(ctx, TMPL_DJOB, v, TK_DJOB__MAX) != 0)
			return -1;
	}
	return 0;
}

static int
dash_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct dash *d = arg;
	char buf[32];

	switch (key) {
	case TK_DASH_SCOPE:
		return page_scope_form(ctx, d->r, "/", d->uid, 0);
	case TK_DASH_TOGGL:
		return toggl_card(ctx, d);
	case TK_DASH_GOOGLE:
		return google_card(ctx, d);
	case TK_DASH_WEBHOOKS:
		return webhook_rows(ctx, d);
	case TK_DASH_JOBS:
		return job_stats(ctx, d);
	case TK_DASH_FAILURES:
		tmpl_putf(ctx, "%ld", d->failures);
		return 0;
	case TK_DASH_MIRRORED:
		tmpl_putf(ctx, "%ld", d->mirrored);
		return 0;
	case TK_DASH_CHART:
		return svg_chart_render(ctx, &d->chart);
	case TK_DASH_LEGEND:
		return svg_chart_legend(ctx, &d->chart);
	case TK_DASH_TOTAL:
		page_hours(buf, sizeof(buf), d->chart.total);
		tmpl_put(ctx, buf);
		tmpl_put(ctx, " in all");
		return 0;
	case TK_DASH_RANGE:
		tmpl_put(ctx, d->range);
		return 0;
	default:
		return 0;
	}
}

/* The chart's data: the span ends today in the viewer's zone. */
static int
load_chart(struct dash *d)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
		"Oct", "Nov", "Dec" };
	char days[16];
	PGresult *res;
	struct svg_chart_acc *acc;
	int64_t today, y0, y1;
	int y, m, dd, m0, d0, m1, d1;

	if ((res = DB_EXEC(d->r->db, STMT_ADMIN_TODAY, d->tz)) == NULL)
		return -1;
	if (tb_parse_date(db_str(res, 0, 0), &y, &m, &dd) != 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	today = tb_days_from_civil(y, m, dd);
	snprintf(days, sizeof(days), "%d", LIMIT_CHART_DAYS);
	if ((res = DB_EXEC(d->r->db, STMT_ADMIN_CHART, d->uids, d->tz, days)) == NULL)
		return -1;
	acc = svg_chart_acc_new();
	for (int i = 0; i < PQntuples(res); i++)
		svg_chart_acc_add(acc, (int)db_i64(res, i, 0), db_i64(res, i, 1), db_str(res, i, 2), db_str(res, i, 3),
		    db_i64(res, i, 4));
	PQclear(res);
	svg_chart_finish(acc, &d->chart, today - (LIMIT_CHART_DAYS - 1));
	tb_civil_from_days(today - (LIMIT_CHART_DAYS - 1), &y0, &m0, &d0);
	tb_civil_from_days(today, &y1, &m1, &d1);
	snprintf(d->range, sizeof(d->range), "%d %s – %d %s", d0, months[(m0 - 1) % 12], d1, months[(m1 - 1) % 12]);
	return 0;
}

void
h_dashboard(struct req *r)
{
	struct dash d;
	PGresult *res;

	memset(&d, 0, sizeof(d));
	d.r = r;
	d.uid = page_scope(r, 0, 0);
	db_i64s(d.uid, d.uids);
	d.tz = r->user.time_zone ? r->user.time_zone : "UTC";
	if ((d.toggl = DB_EXEC(r->db, STMT_ADMIN_TOGGL_ACCOUNT, d.uids, d.tz)) == NULL ||
	    (d.quota = DB_EXEC(r->db, STMT_ADMIN_TOGGL_QUOTA, d.uids)) == NULL ||
	    (d.connect = DB_EXEC(r->db, STMT_ADMIN_USER_JOBS, d.uids, "toggl.connect", d.tz, "1")) == NULL ||
	    (d.ws = DB_EXEC(r->db, STMT_ADMIN_WORKSPACES, d.uids, d.tz)) == NULL ||
	    (d.google = DB_EXEC(r->db, STMT_ADMIN_GOOGLE_ACCOUNT, d.uids, d.tz)) == NULL ||
	    (d.mirror = DB_EXEC(r->db, STMT_GOOGLE_MIRROR_COUNTS, d.uids)) == NULL ||
	    (d.jobs = DB_EXEC(r->db, STMT_JOB_COUNT_BY_STATE, d.uids)) == NULL)
		goto fail;
	if ((res = DB_EXEC(r->db, STMT_ADMIN_JOB_FAILURES, d.uids)) == NULL)
		goto fail;
	d.failures = (long)db_i64(res, 0, 0);
	PQclear(res);
	if ((res = DB_EXEC(r->db, STMT_ADMIN_MIRRORED_TODAY, d.uids, d.tz)) == NULL)
		goto fail;
	d.mirrored = (long)db_i64(res, 0, 0);
	PQclear(res);
	if (load_chart(&d) != 0)
		goto fail;
	page_render(r, 200, "Dashboard", "dashboard", PAGE_NAV_DASHBOARD, TMPL_DASH, dash_cb, &d);
	goto out;
fail:
	log_error(r->id, "dashboard: %s", r->db->err);
	resp_error(r, 503, "The database is unavailable; try again in a moment.");
out:
	PQclear(d.toggl);
	PQclear(d.quota);
	PQclear(d.connect);
	PQclear(d.ws);
	PQclear(d.google);
	PQclear(d.mirror);
	PQclear(d.jobs);
}
