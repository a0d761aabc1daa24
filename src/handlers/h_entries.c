/* h_entries.c: GET /entries — time entries, newest first, paginated, with search and filters (dates,
 * project, sync state), each with its state in Google Calendar and its last error — and POST
 * /entries/resync, which queues a forced sync (gcal_resync) of one entry or a selection. A user sees and
 * resyncs only their own entries; an admin everyone's. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gcal/gcal.h"
#include "handlers/handlers.h"
#include "handlers/page.h"
#include "http/html.h"
#include "http/parse.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/tbtime.h"

/* The mirror states (google_mirror.state, 'none' without a row) and how the page names them. */
static const struct { const char *state, *label; } states[] = {
	{ "synced", "In calendar" }, { "pending", "Queued" }, { "retrying", "Retrying" }, { "error", "Error" },
	{ "paused", "Waiting for reconnect" }, { "none", "Not mirrored" }, { "deleted", "Deleted" },
};
#define NSTATES (sizeof(states) / sizeof(states[0]))

static const char *
state_label(const char *s)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (strcmp(states[i].state, s) == 0)
			return states[i].label;
	return s;
}

struct entries_page {
	struct req *r;
	int64_t     scope;
	const char *scope_param;
	const char *q, *from, *to, *state;
	int64_t     project;        /* -1: any, 0: none */
	long        offset, total;
	const char *note;           /* filters that were ignored */
	const char *self, *base;    /* this page, and its query for the pager */
	PGresult   *rows, *projects;
};

struct entry_row {
	struct entries_page *p;
	int                  i;
};

static int
row_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct entry_row *e = arg;
	const char *st = db_str(e->p->rows, e->i, 11);

	if (key == TK_EROW_BADGE)
		return page_badge(ctx, page_state_kind(st), state_label(st));
	return 0;
}

static int
rows(struct tmpl_ctx *ctx, struct entries_page *p)
{
	struct req *r = p->r;
	PGresult *res = p->rows;

	if (PQntuples(res) == 0)
		return page_empty_row(ctx, p->total == 0 && p->q == NULL && p->from == NULL && p->to == NULL &&
		    p->state == NULL && p->project < 0 ? "No time entries yet. They arrive from Toggl's webhooks, "
		    "a reconciliation or an import." : "No entry matches these filters.");
	for (int i = 0; i < PQntuples(res); i++) {
		struct entry_row e = { p, i };
		struct page_row row;
		char dur[32];
		int running = db_bool(res, i, 5);
		memset(&row, 0, sizeof(row));
		if (running)
			page_duration(dur, sizeof(dur), db_i64(res, i, 13));
		else
			page_duration(dur, sizeof(dur), db_i64(res, i, 4));
		row.v[TK_EROW_ID] = db_str(res, i, 0);
		row.v[TK_EROW_DAY] = db_str(res, i, 1);
		row.v[TK_EROW_TIME] = running ? arena_printf(&r->arena, "%s – running", db_str(res, i, 2)) :
		    arena_printf(&r->arena, "%s – %s", db_str(res, i, 2), db_str(res, i, 3));
		row.v[TK_EROW_DURATION] = arena_strdup(&r->arena, dur);
		row.v[TK_EROW_DESCRIPTION] = db_isnull(res, i, 6) || !*db_str(res, i, 6) ? "(No description)" :
		    db_str(res, i, 6);
		row.v[TK_EROW_PROJECT] = db_isnull(res, i, 7) ? "No project" : db_str(res, i, 7);
		row.v[TK_EROW_COLOR] = db_isnull(res, i, 8) ? "#a39fb0" : db_str(res, i, 8);
		row.v[TK_EROW_TAGS] = *db_str(res, i, 9) ? arena_printf(&r->arena, "#%s", db_str(res, i, 9)) : NULL;
		row.v[TK_EROW_USER] = p->scope == r->user.id ? NULL : db_str(res, i, 10);
		row.v[TK_EROW_ERROR] = db_str(res, i, 12);
		row.v[TK_EROW_LABEL] = arena_printf(&r->arena, "Select the entry of %s %s", db_str(res, i, 1),
		    db_str(res, i, 2));
		row.nest = row_nest;
		row.arg = &e;
		if (page_nest_row(ctx, TMPL_EROW, &row) != 0)
			return -1;
	}
	return 0;
}

struct users_sel {
	struct entries_page *p;
};

static int
usersel_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct entries_page *p = arg;

	return key == TK_USERSEL_OPTIONS ? page_user_options(ctx, p->r, p->scope, 1) : 0;
}

static int
entries_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct entries_page *p = arg;
	struct req *r = p->r;
	const char *tok;

	switch (key) {
	case TK_ENTRIES_CSRF:
		if ((tok = session_csrf_token(r)) != NULL)
			tmpl_put(ctx, tok);
		return 0;
	case TK_ENTRIES_Q:
		if (p->q)
			tmpl_put(ctx, p->q);
		return 0;
	case TK_ENTRIES_FROM:
		if (p->from)
			tmpl_put(ctx, p->from);
		return 0;
	case TK_ENTRIES_TO:
		if (p->to)
			tmpl_put(ctx, p->to);
		return 0;
	case TK_ENTRIES_PROJECTS:
		if (page_option(ctx, "", "Any project", p->project < 0) != 0 ||
		    page_option(ctx, "none", "No project", p->project == 0) != 0)
			return -1;
		for (int i = 0; i < PQntuples(p->projects); i++) {
			const char *label = *db_str(p->projects, i, 2) ? arena_printf(&r->arena, "%s (%s)",
			    db_str(p->projects, i, 1), db_str(p->projects, i, 2)) : db_str(p->projects, i, 1);
			if (page_option(ctx, db_str(p->projects, i, 0), label, db_i64(p->projects, i, 0) == p->project) != 0)
				return -1;
		}
		return 0;
	case TK_ENTRIES_STATES:
		if (page_option(ctx, "", "Any state", p->state == NULL) != 0)
			return -1;
		for (size_t i = 0; i < NSTATES; i++)
			if (page_option(ctx, states[i].state, states[i].label, p->state && strcmp(p->state,
			    states[i].state) == 0) != 0)
				return -1;
		return 0;
	case TK_ENTRIES_USERS: {
		const struct tmpl *t = templates_get(TMPL_USERSEL);
		if (!r->user.is_admin)
			return 0;
		return t ? tmpl_nest(ctx, t, usersel_cb, p) : -1;
	}
	case TK_ENTRIES_ROWS:
		return rows(ctx, p);
	case TK_ENTRIES_PAGER:
		return page_pager(ctx, r, p->base, p->offset, LIMIT_PAGE_ROWS, p->total);
	case TK_ENTRIES_TOTAL:
		tmpl_putf(ctx, "%ld %s", p->total, p->total == 1 ? "entry" : "entries");
		return 0;
	case TK_ENTRIES_BACK:
		tmpl_put(ctx, p->self);
		return 0;
	case TK_ENTRIES_NOTE:
		return p->note ? page_form_error(ctx, p->note) : 0;
	default:
		return 0;
	}
}

/* Append "name=value&" (value URL-encoded) to b when value is set. */
static void
qs_add(struct buf *b, const char *name, const char *value)
{
	if (value == NULL || *value == '\0')
		return;
	buf_puts(b, name);
	buf_putc(b, '=');
	html_url_arg(b, value);
	buf_putc(b, '&');
}

static const char *
valid_date(struct entries_page *p, const char *s, const char *what)
{
	int y, m, d;

	if (s == NULL || *s == '\0')
		return NULL;
	if (strlen(s) == 10 && tb_parse_date(s, &y, &m, &d) == 0 && y >= 1970 && y <= 9999)
		return s;
	p->note = arena_printf(&p->r->arena, "The %s date was not a date (YYYY-MM-DD) and is ignored.", what);
	return NULL;
}

void
h_entries(struct req *r)
{
	struct entries_page p;
	char uid[DB_I64_LEN], pid[DB_I64_LEN], lim[16], off[24], opts[16];
	const char *project = req_query(r, "project"), *state = req_query(r, "state"), *q = req_query(r, "q");
	struct buf qs = BUF_INIT;
	int64_t o = page_id(req_query(r, "offset"));

	memset(&p, 0, sizeof(p));
	p.r = r;
	p.scope = page_scope(r, 1, 1);
	p.scope_param = page_scope_param(r, p.scope);
	p.project = -1;
	p.offset = o > 0 ? (o > LIMIT_PAGE_OFFSET_MAX ? LIMIT_PAGE_OFFSET_MAX : (long)o) : 0;
	if (q && *q) {
		if (strlen(q) > LIMIT_SEARCH_MAX || !http_utf8_valid(q, strlen(q)))
			p.note = arena_printf(&r->arena, "The search text is longer than %d bytes and is ignored.",
			    LIMIT_SEARCH_MAX);
		else
			p.q = q;
	}
	p.from = valid_date(&p, req_query(r, "from"), "From");
	p.to = valid_date(&p, req_query(r, "to"), "To");
	if (project && strcmp(project, "none") == 0)
		p.project = 0;
	else if (project && page_id(project) > 0)
		p.project = page_id(project);
	for (size_t i = 0; state && i < NSTATES; i++)
		if (strcmp(state, states[i].state) == 0)
			p.state = states[i].state;
	qs_add(&qs, "q", p.q);
	qs_add(&qs, "from", p.from);
	qs_add(&qs, "to", p.to);
	qs_add(&qs, "project", p.project == 0 ? "none" : p.project > 0 ? db_i64s(p.project, pid) : NULL);
	qs_add(&qs, "state", p.state);
	qs_add(&qs, "user", p.scope_param);
	p.base = arena_printf(&r->arena, "/entries?%s", qs.data ? qs.data : "");
	p.self = arena_printf(&r->arena, "%soffset=%ld", p.base, p.offset);
	buf_free(&qs);
	snprintf(lim, sizeof(lim), "%d", LIMIT_PAGE_ROWS);
	snprintf(opts, sizeof(opts), "%d", LIMIT_OPTIONS_MAX);
	snprintf(off, sizeof(off), "%ld", p.offset);
	if ((p.rows = DB_EXEC(r->db, STMT_ADMIN_ENTRY_LIST, p.scope ? db_i64s(p.scope, uid) : NULL, p.q, p.from, p.to,
	    p.project >= 0 ? db_i64s(p.project, pid) : NULL, p.state, r->user.time_zone, lim, off)) == NULL ||
	    (p.projects = DB_EXEC(r->db, STMT_ADMIN_ENTRY_PROJECTS, p.scope ? uid : NULL, opts)) == NULL) {
		log_error(r->id, "entries: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		goto out;
	}
	p.total = PQntuples(p.rows) ? (long)db_i64(p.rows, 0, 15) : 0;
	page_render(r, 200, "Entries", "entries", PAGE_NAV_ENTRIES, TMPL_ENTRIES, entries_cb, &p);
out:
	PQclear(p.rows);
	PQclear(p.projects);
}

void
h_entries_resync(struct req *r)
{
	const char *back = page_back(r, "/entries"), *one = req_form(r, "one");
	const char **sel = req_form_all(r, "sel");
	char uid[DB_I64_LEN];
	struct buf ids = BUF_INIT;
	PGresult *res = NULL;
	long n = 0, queued = 0;

	/* A row's own button names one entry; "Resync selected" sends the checked boxes. */
	buf_putc(&ids, '{');
	if (one && *one) {
		if (page_id(one) <= 0)
			goto bad;
		buf_puts(&ids, one);
		n = 1;
	} else {
		for (size_t i = 0; sel && sel[i]; i++) {
			if (page_id(sel[i]) <= 0)
				goto bad;
			if (++n > LIMIT_SELECTION_MAX) {
				page_done(r, back, PAGE_FLASH_ERROR, "Select at most %d entries at a time.", LIMIT_SELECTION_MAX);
				goto out;
			}
			buf_printf(&ids, "%s%s", n > 1 ? "," : "", sel[i]);
		}
	}
	buf_putc(&ids, '}');
	if (n == 0) {
		page_done(r, back, PAGE_FLASH_ERROR, "Nothing was selected: tick the entries to resync first.");
		goto out;
	}
	/* Only entries the caller may see; an admin may resync anyone's. */
	if ((res = DB_EXEC(r->db, STMT_ADMIN_ENTRY_OWNED, ids.data, r->user.is_admin ? NULL :
	    db_i64s(r->user.id, uid))) == NULL || db_begin(r->db) != 0)
		goto dberr;
	for (int i = 0; i < PQntuples(res); i++) {
		int rc = gcal_resync(r->db, db_i64(res, i, 1), db_i64(res, i, 0), NULL);
		if (rc < 0) {
			db_rollback(r->db);
			goto dberr;
		}
		queued += rc;
	}
	if (db_commit(r->db) != 0)
		goto dberr;
	page_audit(r, "entries.resync", arena_printf(&r->arena, "{\"requested\": %ld, \"queued\": %ld}", n, queued));
	if (queued == 0)
		page_done(r, back, PAGE_FLASH_ERROR, "Nothing was queued: %s", PQntuples(res) == 0 ?
		    "those entries do not exist or are not yours." : "connect Google Calendar first.");
	else if (queued < n)
		page_done(r, back, PAGE_FLASH_INFO, "%ld of %ld entries queued for a fresh sync; the others are "
		    "deleted, not yours, or their owner has no Google connection.", queued, n);
	else
		page_done(r, back, PAGE_FLASH_OK, "%ld %s queued for a fresh sync to Google Calendar.", queued,
		    queued == 1 ? "entry" : "entries");
	goto out;
bad:
	page_done(r, back, PAGE_FLASH_ERROR, "The selection was not a list of entry ids.");
	goto out;
dberr:
	log_error(r->id, "resync: %s", r->db->err);
	resp_error(r, 503, "The database is unavailable; nothing was queued.");
out:
	PQclear(res);
	buf_free(&ids);
}
