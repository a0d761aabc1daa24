/* h_google_page.c: GET /google — the Google Calendar connection (Connect, Reconnect, Disconnect: the routes
 * of h_oauth.c), the mirror settings and the colour rules — and the POSTs that change the settings and the
 * rules. Nothing here calls Google: a new calendar name queues the google.calendar job (gcal.h), and rule
 * changes reach existing events through validation. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gcal/gcal.h"
#include "handlers/handlers.h"
#include "handlers/page.h"
#include "http/parse.h"
#include "util/conf.h"
#include "util/limits.h"
#include "util/log.h"

/* Google Calendar's names of its 11 event colours (colorId 1..11). */
static const char *const color_names[12] = { NULL, "Lavender", "Sage", "Grape", "Flamingo", "Banana",
	"Tangerine", "Peacock", "Graphite", "Blueberry", "Basil", "Tomato" };

static const struct { const char *kind, *label; } ref_kinds[] = {
	{ "tag", "Tags" }, { "project", "Projects" }, { "client", "Clients" }, { "workspace", "Workspaces" },
};

struct google_page {
	struct req *r;
	int64_t     uid;
	char        uids[DB_I64_LEN];
	const char *error;
	const char *calendar, *backfill, *refresh;   /* form values shown (after an error: as typed) */
	int         color;                           /* the colour ticked in the rule form */
	PGresult   *acct, *mirror, *rules, *refs;
};

static int
connected(struct google_page *p)
{
	return p->acct && PQntuples(p->acct) == 1;
}

static int
status_card(struct tmpl_ctx *ctx, struct google_page *p)
{
	struct req *r = p->r;
	struct page_card c = { "muted", "Not connected", "Google Calendar is not connected",
		"Connect it and timebridge creates a calendar of its own, then mirrors every time entry into it as an "
		"event. It can see and change only the calendars it created.", NULL };
	PGresult *a = p->acct;
	struct buf b = BUF_INIT;
	int rc;

	if (config_get()->google_client_id == NULL || *config_get()->google_client_id == '\0')
		c.detail = "This server has no Google OAuth client configured (GOOGLE_CLIENT_ID and "
		    "GOOGLE_CLIENT_SECRET), so connecting is not possible yet.";
	if (connected(p)) {
		const char *st = db_str(a, 0, 0);
		c.title = arena_printf(&r->arena, "Calendar “%s”", db_str(a, 0, 3));
		if (strcmp(st, "needs_reconnect") == 0) {
			c.badge_kind = "bad", c.badge = "Needs reconnect";
			c.detail = arena_printf(&r->arena, "%s Mirroring is paused; nothing is lost: it resumes after "
			    "you reconnect.", db_str(a, 0, 1) ? db_str(a, 0, 1) : "Google no longer accepts timebridge's access.");
		} else if (strcmp(st, "disconnecting") == 0) {
			c.badge_kind = "warn", c.badge = "Disconnecting";
			c.detail = "Revoking timebridge's access at Google; the connection disappears in a moment.";
		} else {
			c.badge_kind = "ok", c.badge = "Connected";
			c.detail = db_isnull(a, 0, 2) ? "Creating the calendar at Google…" :
			    arena_printf(&r->arena, "Connected %s. Events of the last %s days are mirrored.", db_str(a, 0, 9),
			    db_str(a, 0, 4));
			if (!db_isnull(a, 0, 6) && db_i64(a, 0, 6) > 0) {
				char when[48];
				page_ago(when, sizeof(when), -db_i64(a, 0, 6));
				c.badge_kind = "warn", c.badge = "Backing off";
				c.detail = arena_printf(&r->arena, "Google asked timebridge to slow down; syncing resumes %s.", when);
			}
		}
		for (int i = 0; p->mirror && i < PQntuples(p->mirror); i++)
			buf_printf(&b, "%s%s %s", b.len ? ", " : "Entries: ", db_str(p->mirror, i, 1), db_str(p->mirror, i, 0));
		if (!db_isnull(a, 0, 7)) {
			char when[48];
			page_ago(when, sizeof(when), db_i64(a, 0, 7));
			buf_printf(&b, "%sLast validation %s", b.len ? " · " : "", when);
		}
		c.extra = b.len ? arena_strdup(&r->arena, b.data) : NULL;
	}
	c.href = arena_printf(&r->arena, "/entries?user=%s", p->uids);
	c.action = "See the entries";
	rc = page_status_card(ctx, &c);
	buf_free(&b);
	return rc;
}

static int
connect_area(struct tmpl_ctx *ctx, struct google_page *p)
{
	struct req *r = p->r;
	const char *st = connected(p) ? db_str(p->acct, 0, 0) : NULL;
	const char *v[TK_GCONN__MAX] = { [TK_GCONN_CSRF] = session_csrf_token(r), [TK_GCONN_USER] = "" };

	/* The consent is the account owner's own: an admin looking at someone else's page cannot give it. */
	if (p->uid != r->user.id)
		return page_muted(ctx, "Only the account's owner can connect or disconnect their calendar.");
	if (st == NULL) {
		v[TK_GCONN_LABEL] = "Connect Google Calendar";
		return page_nest_values(ctx, TMPL_GCONN, v, TK_GCONN__MAX);
	}
	if (strcmp(st, "disconnecting") == 0)
		return 0;
	if (strcmp(st, "needs_reconnect") == 0) {
		v[TK_GCONN_LABEL] = "Reconnect Google Calendar";
		if (page_nest_values(ctx, TMPL_GRECONN, v, TK_GCONN__MAX) != 0)
			return -1;
		v[TK_GCONN_LABEL] = "Reconnect";
	} else
		v[TK_GCONN_LABEL] = "Reconnect";
	/* The connected variant carries Disconnect; a reconnect link is in it too, for a changed account. */
	return strcmp(st, "needs_reconnect") == 0 ? 0 : page_nest_values(ctx, TMPL_GDISC, v, TK_GCONN__MAX);
}

struct rule_row {
	struct google_page *p;
	int                 i;
};

static int
rule_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct rule_row *rr = arg;
	struct google_page *p = rr->p;
	PGresult *ru = p->rules;

	if (key == TK_RULE_ACTION) {
		struct page_btn b = { "/google/colors/delete", page_scope_param(p->r, p->uid), NULL, "rule",
			arena_printf(&p->r->arena, "%s:%s", db_str(ru, rr->i, 0), db_str(ru, rr->i, 1)), "Delete", "ghost",
			"Delete this colour rule" };
		return page_button(ctx, p->r, &b);
	}
	return 0;
}

static int
rule_rows(struct tmpl_ctx *ctx, struct google_page *p)
{
	PGresult *ru = p->rules;

	if (PQntuples(ru) == 0)
		return page_empty_row(ctx, "No rules: events take the colour nearest to their project's.");
	for (int i = 0; i < PQntuples(ru); i++) {
		struct rule_row rr = { p, i };
		struct page_row row;
		int c = (int)db_i64(ru, i, 2);
		memset(&row, 0, sizeof(row));
		if (c < 1 || c > 11)
			c = 8;
		row.v[TK_RULE_KIND] = db_str(ru, i, 0);
		row.v[TK_RULE_MATCH] = db_str(ru, i, 3) ? db_str(ru, i, 3) : arena_printf(&p->r->arena, "#%s (deleted)",
		    db_str(ru, i, 1));
		row.v[TK_RULE_FILL] = gcal_event_colors[c];
		row.v[TK_RULE_COLOR] = color_names[c];
		row.nest = rule_nest;
		row.arg = &rr;
		if (page_nest_row(ctx, TMPL_RULE, &row) != 0)
			return -1;
	}
	return 0;
}

struct group {
	struct google_page *p;
	const char         *kind, *label;
};

static int
group_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct group *g = arg;
	PGresult *refs = g->p->refs;

	if (key == TK_OPTGROUP_LABEL)
		tmpl_put(ctx, g->label);
	else if (key == TK_OPTGROUP_OPTIONS)
		for (int i = 0; i < PQntuples(refs); i++) {
			const char *label;
			if (strcmp(db_str(refs, i, 0), g->kind) != 0)
				continue;
			label = strcmp(g->kind, "workspace") == 0 ? db_str(refs, i, 2) :
			    arena_printf(&g->p->r->arena, "%s (%s)", db_str(refs, i, 2), db_str(refs, i, 3));
			if (page_option(ctx, arena_printf(&g->p->r->arena, "%s:%s", g->kind, db_str(refs, i, 1)), label, 0) != 0)
				return -1;
		}
	return 0;
}

static int
ref_options(struct tmpl_ctx *ctx, struct google_page *p)
{
	const struct tmpl *t = templates_get(TMPL_OPTGROUP);

	if (PQntuples(p->refs) == 0)
		return page_option(ctx, "", "Nothing yet: connect Toggl first", 1);
	for (size_t k = 0; k < sizeof(ref_kinds) / sizeof(ref_kinds[0]); k++) {
		struct group g = { p, ref_kinds[k].kind, ref_kinds[k].label };
		int any = 0;
		for (int i = 0; i < PQntuples(p->refs) && !any; i++)
			any = strcmp(db_str(p->refs, i, 0), g.kind) == 0;
		if (any && (t == NULL || tmpl_nest(ctx, t, group_cb, &g) != 0))
			return -1;
	}
	return 0;
}

static int
swatches(struct tmpl_ctx *ctx, struct google_page *p)
{
	for (int c = 1; c <= 11; c++) {
		char id[4];
		const char *v[TK_SWATCH__MAX];
		snprintf(id, sizeof(id), "%d", c);
		v[TK_SWATCH_ID] = id, v[TK_SWATCH_FILL] = gcal_event_colors[c], v[TK_SWATCH_NAME] = color_names[c];
		if (page_nest_values(ctx, c == p->color ? TMPL_SWATCH_SEL : TMPL_SWATCH, v, TK_SWATCH__MAX) != 0)
			return -1;
	}
	return 0;
}

static int
google_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct google_page *p = arg;
	struct req *r = p->r;
	const char *tok;

	switch (key) {
	case TK_GOOGLE_CSRF:
		if ((tok = session_csrf_token(r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case TK_GOOGLE_UID:
		tmpl_put(ctx, page_scope_param(r, p->uid));
		return 0;
	case TK_GOOGLE_ERROR:
		return page_form_error(ctx, p->error);
	case TK_GOOGLE_USER:
		return page_scope_form(ctx, r, "/google", p->uid, 0);
	case TK_GOOGLE_STATUS:
		return status_card(ctx, p);
	case TK_GOOGLE_CONNECT:
		return connect_area(ctx, p);
	case TK_GOOGLE_NOTE:
		return connected(p) ? 0 : page_muted(ctx, "These settings can be changed once Google is connected.");
	case TK_GOOGLE_CALENDAR:
		tmpl_put(ctx, p->calendar);
		return 0;
	case TK_GOOGLE_BACKFILL:
		tmpl_put(ctx, p->backfill);
		return 0;
	case TK_GOOGLE_REFRESH:
		tmpl_put(ctx, p->refresh);
		return 0;
	case TK_GOOGLE_RULES:
		return rule_rows(ctx, p);
	case TK_GOOGLE_REFS:
		return ref_options(ctx, p);
	case TK_GOOGLE_COLORS:
		return swatches(ctx, p);
	default:
		return 0;
	}
}

static void
show(struct req *r, int status, struct google_page *p)
{
	char def[16], opts[16];

	p->r = r;
	snprintf(opts, sizeof(opts), "%d", LIMIT_OPTIONS_MAX);
	db_i64s(p->uid, p->uids);
	if ((p->acct = DB_EXEC(r->db, STMT_ADMIN_GOOGLE_ACCOUNT, p->uids, r->user.time_zone)) == NULL ||
	    (p->mirror = DB_EXEC(r->db, STMT_GOOGLE_MIRROR_COUNTS, p->uids)) == NULL ||
	    (p->rules = DB_EXEC(r->db, STMT_GOOGLE_COLOR_RULE_LIST, p->uids)) == NULL ||
	    (p->refs = DB_EXEC(r->db, STMT_ADMIN_COLOR_REFS, p->uids, opts)) == NULL) {
		log_error(r->id, "google page: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		goto out;
	}
	if (p->calendar == NULL)
		p->calendar = connected(p) ? db_str(p->acct, 0, 3) : GCAL_DEFAULT_CALENDAR_NAME;
	if (p->backfill == NULL) {
		snprintf(def, sizeof(def), "%d", GCAL_DEFAULT_BACKFILL_DAYS);
		p->backfill = connected(p) ? db_str(p->acct, 0, 4) : arena_strdup(&r->arena, def);
	}
	if (p->refresh == NULL) {
		snprintf(def, sizeof(def), "%d", GCAL_DEFAULT_REFRESH_MIN);
		p->refresh = connected(p) ? db_str(p->acct, 0, 5) : arena_strdup(&r->arena, def);
	}
	if (p->color == 0)
		p->color = 7;
	page_render(r, status, "Google Calendar", "google", PAGE_NAV_GOOGLE, TMPL_GOOGLE, google_cb, p);
out:
	PQclear(p->acct);
	PQclear(p->mirror);
	PQclear(p->rules);
	PQclear(p->refs);
}

void
h_google_page(struct req *r)
{
	struct google_page p;

	memset(&p, 0, sizeof(p));
	p.uid = page_scope(r, 0, 0);
	show(r, 200, &p);
}

static const char *
back_for(struct req *r, int64_t uid)
{
	return uid == r->user.id ? "/google" : arena_printf(&r->arena, "/google?user=%" PRId64, uid);
}

void
h_google_settings(struct req *r)
{
	static const struct http_field fields[] = {
		{ "calendar_name", HTTP_FT_LINE, LIMIT_GOOGLE_CALENDAR_NAME_MAX, HTTP_FIELD_REQUIRED, NULL, 0, 0 },
		{ "backfill_days", HTTP_FT_UINT, 8, HTTP_FIELD_REQUIRED, NULL, 1, LIMIT_GOOGLE_DAYS_MAX },
		{ "refresh_minutes", HTTP_FT_UINT, 8, HTTP_FIELD_REQUIRED, NULL, 1, LIMIT_GOOGLE_REFRESH_MIN_MAX },
	};
	struct http_value v[3];
	struct google_page p;
	char uid[DB_I64_LEN], days[24], mins[24];
	const char *before = NULL;
	PGresult *res = NULL;
	int renamed;

	memset(&p, 0, sizeof(p));
	p.uid = page_scope(r, 0, 0);
	db_i64s(p.uid, uid);
	http_validate(fields, 3, r->form, v);
	if (!v[0].valid || v[0].len == 0 || !v[1].valid || !v[2].valid) {
		p.error = !v[0].valid || v[0].len == 0 ? arena_printf(&r->arena, "The calendar name must be one line of "
		    "1 to %d characters.", LIMIT_GOOGLE_CALENDAR_NAME_MAX) : !v[1].valid ?
		    arena_printf(&r->arena, "Days to backfill must be a whole number from 1 to %d.", LIMIT_GOOGLE_DAYS_MAX) :
		    arena_printf(&r->arena, "The refresh interval must be a whole number of minutes from 1 to %d.",
		    LIMIT_GOOGLE_REFRESH_MIN_MAX);
		p.calendar = v[0].valid ? v[0].s : "";
		p.backfill = v[1].valid ? v[1].s : "";
		p.refresh = v[2].valid ? v[2].s : "";
		show(r, 400, &p);
		return;
	}
	if ((res = DB_EXEC(r->db, STMT_ADMIN_GOOGLE_ACCOUNT, uid, r->user.time_zone)) == NULL)
		goto dberr;
	if (PQntuples(res) != 1) {
		PQclear(res);
		page_done(r, back_for(r, p.uid), PAGE_FLASH_ERROR, "Connect Google Calendar first.");
		return;
	}
	before = arena_strdup(&r->arena, db_str(res, 0, 3));
	PQclear(res);
	snprintf(days, sizeof(days), "%lld", (long long)v[1].i64);
	snprintf(mins, sizeof(mins), "%lld", (long long)v[2].i64);
	renamed = strcmp(before, v[0].s) != 0;
	if (db_begin(r->db) != 0)
		goto dberr;
	if ((res = DB_EXEC(r->db, STMT_GOOGLE_SETTINGS_PUT, uid, v[0].s, days, mins)) == NULL ||
	    (renamed && gcal_calendar_queue(r->db, p.uid, NULL) != 0)) {
		db_rollback(r->db);
		goto dberr;
	}
	PQclear(res);
	if (db_commit(r->db) != 0)
		goto dberr;
	page_audit(r, "google.settings", arena_printf(&r->arena, "{\"user_id\": %s, \"backfill_days\": %s, "
	    "\"refresh_minutes\": %s}", uid, days, mins));
	page_done(r, back_for(r, p.uid), PAGE_FLASH_OK, renamed ? "Settings saved; the calendar is being renamed at "
	    "Google." : "Settings saved.");
	return;
dberr:
	log_error(r->id, "google settings: %s", r->db->err);
	resp_error(r, 503, "The database is unavailable; nothing was saved.");
}

/* "kind:id" of a colour rule form into its parts; 0 when well-formed. */
static int
parse_ref(const char *s, const char **kind, int64_t *id)
{
	const char *colon = s ? strchr(s, ':') : NULL;

	if (colon == NULL || (*id = page_id(colon + 1)) <= 0)
		return -1;
	for (size_t k = 0; k < sizeof(ref_kinds) / sizeof(ref_kinds[0]); k++)
		if (strlen(ref_kinds[k].kind) == (size_t)(colon - s) && strncmp(s, ref_kinds[k].kind, (size_t)(colon - s)) == 0) {
			*kind = ref_kinds[k].kind;
			return 0;
		}
	return -1;
}

void
h_google_color_add(struct req *r)
{
	int64_t uidn = page_scope(r, 0, 0), ref, color = page_id(req_form(r, "color"));
	char uid[DB_I64_LEN], refs[DB_I64_LEN], col[8];
	const char *kind;
	PGresult *res;
	struct google_page p;

	memset(&p, 0, sizeof(p));
	p.uid = uidn;
	db_i64s(uidn, uid);
	if (parse_ref(req_form(r, "ref"), &kind, &ref) != 0 || color < 1 || color > 11) {
		p.error = "Choose what the rule applies to, and one of the eleven colours.";
		p.color = color >= 1 && color <= 11 ? (int)color : 0;
		show(r, 400, &p);
		return;
	}
	if ((res = DB_EXEC(r->db, STMT_ADMIN_COLOR_REF_OWNED, uid, kind, db_i64s(ref, refs))) == NULL)
		goto dberr;
	if (PQntuples(res) != 1) {
		PQclear(res);
		page_done(r, back_for(r, uidn), PAGE_FLASH_ERROR, "That %s is not in this account's workspaces.", kind);
		return;
	}
	PQclear(res);
	snprintf(col, sizeof(col), "%d", (int)color);
	if (DB_RUN(r->db, STMT_GOOGLE_COLOR_RULE_PUT, uid, kind, refs, col) != 0)
		goto dberr;
	page_audit(r, "google.color_rule", arena_printf(&r->arena, "{\"user_id\": %s, \"kind\": \"%s\", \"ref_id\": %s, "
	    "\"color_id\": %s}", uid, kind, refs, col));
	page_done(r, back_for(r, uidn), PAGE_FLASH_OK, "Rule saved: %s. New and changed entries take it at once; "
	    "existing events are repainted by the next validation.", color_names[color]);
	return;
dberr:
	log_error(r->id, "colour rule: %s", r->db->err);
	resp_error(r, 503, "The database is unavailable; nothing was saved.");
}

void
h_google_color_delete(struct req *r)
{
	int64_t uidn = page_scope(r, 0, 0), ref;
	char uid[DB_I64_LEN], refs[DB_I64_LEN];
	const char *kind;

	db_i64s(uidn, uid);
	if (parse_ref(req_form(r, "rule"), &kind, &ref) != 0) {
		page_done(r, back_for(r, uidn), PAGE_FLASH_ERROR, "No rule was named.");
		return;
	}
	if (DB_RUN(r->db, STMT_GOOGLE_COLOR_RULE_DELETE, uid, kind, db_i64s(ref, refs)) != 0) {
		log_error(r->id, "colour rule delete: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; nothing was changed.");
		return;
	}
	page_done(r, back_for(r, uidn), PAGE_FLASH_OK, "Rule deleted.");
}
