/* h_settings.c: GET/POST /settings (admins only): the validation interval of the Google mirror, the Toggl
 * reconciliation schedule, and how long raw webhook events are kept. The keys and their checks belong to
 * the features that read them (gcal.h, toggl.h); a new reconcile schedule is applied to every connected
 * user in the same transaction as the setting. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gcal/gcal.h"
#include "handlers/handlers.h"
#include "handlers/page.h"
#include "http/parse.h"
#include "toggl/toggl.h"
#include "util/limits.h"
#include "util/log.h"

#define RETENTION_KEY "webhook_event_retention_days"   /* read by STMT_WEBHOOK_PURGE_EVENTS */

struct settings_page {
	struct req *r;
	const char *validate, *reconcile, *retention;
	const char *error;
	PGresult   *schedules;
};

static int
settings_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct settings_page *p = arg;
	struct req *r = p->r;
	const char *tok;

	switch (key) {
	case TK_SETTINGS_CSRF:
		if ((tok = session_csrf_token(r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case TK_SETTINGS_ERROR:
		return page_form_error(ctx, p->error);
	case TK_SETTINGS_VALIDATE:
		tmpl_put(ctx, p->validate);
		return 0;
	case TK_SETTINGS_RECONCILE:
		tmpl_put(ctx, p->reconcile);
		return 0;
	case TK_SETTINGS_RETENTION:
		tmpl_put(ctx, p->retention);
		return 0;
	case TK_SETTINGS_SCHEDULES:
		if (PQntuples(p->schedules) == 0)
			return page_empty_row(ctx, "No schedules.");
		for (int i = 0; i < PQntuples(p->schedules); i++) {
			PGresult *s = p->schedules;
			char next[64], last[64];
			const char *v[TK_SROW__MAX];
			struct page_row row;
			memset(&row, 0, sizeof(row));
			page_when(next, sizeof(next), db_i64(s, i, 3), db_str(s, i, 4));
			if (db_isnull(s, i, 5))
				snprintf(last, sizeof(last), "Never");
			else
				page_when(last, sizeof(last), db_i64(s, i, 5), db_str(s, i, 6));
			v[TK_SROW_NAME] = *db_str(s, i, 7) ? arena_printf(&r->arena, "%s (%s)", db_str(s, i, 0),
			    db_str(s, i, 7)) : db_str(s, i, 0);
			v[TK_SROW_CRON] = db_str(s, i, 1);
			v[TK_SROW_NEXT] = arena_strdup(&r->arena, next);
			v[TK_SROW_LAST] = arena_strdup(&r->arena, last);
			v[TK_SROW_STATE] = db_bool(s, i, 2) ? "enabled" : "disabled";
			if (page_nest_values(ctx, TMPL_SROW, v, TK_SROW__MAX) != 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* The stored value of key, or def. Arena-owned. NULL on a database error. */
static const char *
setting(struct req *r, const char *key, const char *def)
{
	PGresult *res = DB_EXEC(r->db, STMT_SETTING_GET, key);
	const char *v;

	if (res == NULL)
		return NULL;
	v = arena_strdup(&r->arena, PQntuples(res) == 1 ? db_str(res, 0, 0) : def);
	PQclear(res);
	return v;
}

static void
show(struct req *r, int status, struct settings_page *p)
{
	char def[16];

	p->r = r;
	snprintf(def, sizeof(def), "%d", GCAL_DEFAULT_VALIDATE_MIN);
	if (p->validate == NULL)
		p->validate = setting(r, GCAL_SETTING_VALIDATE_INTERVAL, def);
	if (p->reconcile == NULL)
		p->reconcile = setting(r, TOGGL_RECONCILE_CRON_SETTING, TOGGL_RECONCILE_CRON_DEFAULT);
	snprintf(def, sizeof(def), "%d", LIMIT_WEBHOOK_RETENTION_DAYS);
	if (p->retention == NULL)
		p->retention = setting(r, RETENTION_KEY, def);
	if (p->validate == NULL || p->reconcile == NULL || p->retention == NULL ||
	    (p->schedules = DB_EXEC(r->db, STMT_ADMIN_SCHEDULES, r->user.time_zone)) == NULL) {
		log_error(r->id, "settings: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	page_render(r, status, "Settings", "settings", PAGE_NAV_SETTINGS, TMPL_SETTINGS, settings_cb, p);
	PQclear(p->schedules);
	p->schedules = NULL;
}

void
h_settings(struct req *r)
{
	struct settings_page p = { 0 };

	show(r, 200, &p);
}

void
h_settings_save(struct req *r)
{
	static const struct http_field fields[] = {
		{ "sync_validate_interval", HTTP_FT_UINT, 8, HTTP_FIELD_REQUIRED, NULL, 1, 1440 },
		{ "toggl_reconcile_cron", HTTP_FT_LINE, LIMIT_SETTING_VALUE_MAX, HTTP_FIELD_REQUIRED, NULL, 0, 0 },
		{ "webhook_event_retention_days", HTTP_FT_UINT, 8, HTTP_FIELD_REQUIRED, NULL, 0, 3650 },
	};
	struct http_value v[3];
	struct settings_page p = { 0 };
	char err[512], num[24];
	json_t *detail;
	char *dj;

	http_validate(fields, 3, r->form, v);
	p.validate = req_form(r, "sync_validate_interval");
	p.reconcile = req_form(r, "toggl_reconcile_cron");
	p.retention = req_form(r, "webhook_event_retention_days");
	if (!v[0].valid) {
		p.error = "The validation interval must be a whole number of minutes from 1 to 1440.";
		goto bad;
	}
	if (!v[2].valid) {
		p.error = "The retention must be a whole number of days from 0 (keep forever) to 3650.";
		goto bad;
	}
	if (!v[1].valid || toggl_reconcile_cron_check(v[1].s, err, sizeof(err)) != 0) {
		p.error = arena_printf(&r->arena, "The reconcile schedule is not usable: %s",
		    v[1].valid ? err : "give five cron fields, e.g. 0 2,14 * * *");
		goto bad;
	}
	if (db_begin(r->db) != 0)
		goto dberr;
	snprintf(num, sizeof(num), "%lld", (long long)v[0].i64);
	if (DB_RUN(r->db, STMT_SETTING_PUT, GCAL_SETTING_VALIDATE_INTERVAL, num) != 0)
		goto rollback;
	snprintf(num, sizeof(num), "%lld", (long long)v[2].i64);
	if (DB_RUN(r->db, STMT_SETTING_PUT, RETENTION_KEY, num) != 0 ||
	    DB_RUN(r->db, STMT_SETTING_PUT, TOGGL_RECONCILE_CRON_SETTING, v[1].s) != 0)
		goto rollback;
	if (toggl_reconcile_schedule_all(r->db, err, sizeof(err)) < 0) {
		db_rollback(r->db);
		p.error = arena_printf(&r->arena, "The schedules could not be updated: %s", err);
		goto bad;
	}
	if (db_commit(r->db) != 0)
		goto dberr;
	detail = json_pack("{s:I, s:s, s:I}", "validate_min", (json_int_t)v[0].i64, "reconcile_cron", v[1].s,
	    "retention_days", (json_int_t)v[2].i64);
	dj = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	page_audit(r, "settings.save", dj);
	free(dj);
	json_decref(detail);
	page_done(r, "/settings", PAGE_FLASH_OK, "Settings saved.");
	return;
rollback:
	db_rollback(r->db);
dberr:
	log_error(r->id, "settings save: %s", r->db->err);
	resp_error(r, 503, "The database is unavailable; nothing was saved.");
	return;
bad:
	/* Show what was typed, unless it is not even text. */
	if (p.validate && (strlen(p.validate) > 16 || !http_utf8_valid(p.validate, strlen(p.validate))))
		p.validate = "";
	if (p.reconcile && (strlen(p.reconcile) > LIMIT_SETTING_VALUE_MAX ||
	    !http_utf8_valid(p.reconcile, strlen(p.reconcile))))
		p.reconcile = "";
	if (p.retention && (strlen(p.retention) > 16 || !http_utf8_valid(p.retention, strlen(p.retention))))
		p.retention = "";
	show(r, 400, &p);
}
