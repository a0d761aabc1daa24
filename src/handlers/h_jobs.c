/* h_jobs.c: GET /jobs — the job queue by state, with attempts, next run, last error and progress — and the
 * POSTs that retry one failed, dead or paused job, or every dead one. A user sees and retries only their
 * own jobs; an admin sees everyone's (system jobs included) and may narrow to one user. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "handlers/handlers.h"
#include "handlers/page.h"
#include "util/limits.h"
#include "util/log.h"

/* The tabs, in order; "active" is every unfinished job. */
static const struct { const char *state, *label; } tabs[] = {
	{ "active", "Active" }, { "queued", "Queued" }, { "running", "Running" }, { "failed", "Failed" },
	{ "dead", "Dead" }, { "paused", "Paused" }, { "done", "Done" }, { "all", "All" },
};
#define NTABS (sizeof(tabs) / sizeof(tabs[0]))

struct jobs_page {
	struct req *r;
	int64_t     scope;          /* 0: every user (admins) */
	const char *scope_param;
	const char *state;
	const char *self;           /* this page's URL, for "back" */
	long        offset;
	PGresult   *rows, *counts;
	long        total, dead;
};

static long
count_of(struct jobs_page *p, const char *state)
{
	long n = 0;

	for (int i = 0; p->counts && i < PQntuples(p->counts); i++) {
		const char *s = db_str(p->counts, i, 0);
		if (strcmp(state, "all") == 0 || strcmp(s, state) == 0 || (strcmp(state, "active") == 0 &&
		    (strcmp(s, "queued") == 0 || strcmp(s, "running") == 0 || strcmp(s, "failed") == 0 ||
		    strcmp(s, "paused") == 0)))
			n += (long)db_i64(p->counts, i, 1);
	}
	return n;
}

/* Progress as people read it: up to four "key value" pairs of the job's progress object. */
static const char *
progress_text(struct req *r, const char *json)
{
	json_t *o = json ? json_loads(json, 0, NULL) : NULL, *v;
	struct buf b = BUF_INIT;
	const char *k, *out = NULL;
	int n = 0;

	if (json_is_object(o)) {
		json_object_foreach(o, k, v) {
			if (n == 4)
				break;
			if (json_is_integer(v))
				buf_printf(&b, "%s%s %" JSON_INTEGER_FORMAT, n ? ", " : "", k, json_integer_value(v));
			else if (json_is_real(v))
				buf_printf(&b, "%s%s %.1f", n ? ", " : "", k, json_real_value(v));
			else if (json_is_string(v))
				buf_printf(&b, "%s%s %.40s", n ? ", " : "", k, json_string_value(v));
			else
				continue;
			n++;
		}
	}
	if (b.len)
		out = arena_strdup(&r->arena, b.data);
	buf_free(&b);
	json_decref(o);
	return out;
}

struct job_row {
	struct jobs_page *p;
	int               i;
};

static int
row_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct job_row *j = arg;
	PGresult *res = j->p->rows;
	const char *state = db_str(res, j->i, 2);

	if (key == TK_JROW_BADGE)
		return page_badge(ctx, page_state_kind(state), state);
	if (key == TK_JROW_ACTION && (strcmp(state, "failed") == 0 || strcmp(state, "dead") == 0 ||
	    strcmp(state, "paused") == 0)) {
		struct page_btn b = { "/jobs/retry", j->p->scope_param, j->p->self, "id", db_str(res, j->i, 0),
			"Retry", "secondary", arena_printf(&j->p->r->arena, "Run job %s again now, attempts reset",
			db_str(res, j->i, 0)) };
		return page_button(ctx, j->p->r, &b);
	}
	return 0;
}

static int
rows(struct tmpl_ctx *ctx, struct jobs_page *p)
{
	struct req *r = p->r;

	if (PQntuples(p->rows) == 0)
		return page_empty_row(ctx, strcmp(p->state, "active") == 0 ? "Nothing waiting: every job is done." :
		    "No jobs in this state.");
	for (int i = 0; i < PQntuples(p->rows); i++) {
		struct job_row j = { p, i };
		struct page_row row;
		char next[64], updated[64];
		const char *state = db_str(p->rows, i, 2);
		memset(&row, 0, sizeof(row));
		if (strcmp(state, "queued") == 0 || strcmp(state, "failed") == 0)
			page_when(next, sizeof(next), db_i64(p->rows, i, 5), db_str(p->rows, i, 6));
		else
			snprintf(next, sizeof(next), "—");
		page_when(updated, sizeof(updated), db_i64(p->rows, i, 9), db_str(p->rows, i, 10));
		row.v[TK_JROW_ID] = db_str(p->rows, i, 0);
		row.v[TK_JROW_KIND] = db_str(p->rows, i, 1);
		row.v[TK_JROW_USER] = *db_str(p->rows, i, 8) ? db_str(p->rows, i, 8) : "system";
		row.v[TK_JROW_ATTEMPTS] = arena_printf(&r->arena, "%s/%s", db_str(p->rows, i, 3), db_str(p->rows, i, 4));
		row.v[TK_JROW_NEXT] = arena_strdup(&r->arena, next);
		row.v[TK_JROW_ERROR] = db_str(p->rows, i, 7);
		row.v[TK_JROW_PROGRESS] = progress_text(r, db_str(p->rows, i, 11));
		row.v[TK_JROW_UPDATED] = arena_strdup(&r->arena, updated);
		row.nest = row_nest;
		row.arg = &j;
		if (page_nest_row(ctx, TMPL_JROW, &row) != 0)
			return -1;
	}
	return 0;
}

static int
jobs_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct jobs_page *p = arg;
	struct req *r = p->r;

	switch (key) {
	case TK_JOBS_TABS:
		for (size_t i = 0; i < NTABS; i++) {
			const char *href = arena_printf(&r->arena, "/jobs?state=%s&user=%s", tabs[i].state, p->scope_param);
			const char *label = arena_printf(&r->arena, "%s %ld", tabs[i].label, count_of(p, tabs[i].state));
			if (page_link(ctx, href, label, strcmp(p->state, tabs[i].state) == 0) != 0)
				return -1;
		}
		return 0;
	case TK_JOBS_ROWS:
		return rows(ctx, p);
	case TK_JOBS_PAGER:
		return page_pager(ctx, r, arena_printf(&r->arena, "/jobs?state=%s&user=%s&", p->state, p->scope_param),
		    p->offset, LIMIT_PAGE_ROWS, p->total);
	case TK_JOBS_RETRY_ALL: {
		struct page_btn b = { "/jobs/retry-dead", p->scope_param, p->self, "all", "1",
			arena_printf(&r->arena, "Retry all dead (%ld)", p->dead), "primary",
			"Queue every dead job shown here again, attempts reset" };
		return p->dead > 0 ? page_button(ctx, r, &b) : 0;
	}
	case TK_JOBS_USERS:
		return page_scope_form(ctx, r, "/jobs", p->scope, 1);
	default:
		return 0;
	}
}

void
h_jobs(struct req *r)
{
	struct jobs_page p;
	char uid[DB_I64_LEN], lim[16], off[24];
	const char *state = req_query(r, "state"), *who;
	int64_t o = page_id(req_query(r, "offset"));

	memset(&p, 0, sizeof(p));
	p.r = r;
	p.scope = page_scope(r, 1, 1);
	p.scope_param = page_scope_param(r, p.scope);
	p.state = "active";
	for (size_t i = 0; state && i < NTABS; i++)
		if (strcmp(state, tabs[i].state) == 0)
			p.state = tabs[i].state;
	p.offset = o > 0 ? (o > LIMIT_PAGE_OFFSET_MAX ? LIMIT_PAGE_OFFSET_MAX : (long)o) : 0;
	p.self = arena_printf(&r->arena, "/jobs?state=%s&user=%s&offset=%ld", p.state, p.scope_param, p.offset);
	who = p.scope ? db_i64s(p.scope, uid) : NULL;
	snprintf(lim, sizeof(lim), "%d", LIMIT_PAGE_ROWS);
	snprintf(off, sizeof(off), "%ld", p.offset);
	if ((p.rows = DB_EXEC(r->db, STMT_ADMIN_JOB_LIST, p.state, who, r->user.time_zone, lim, off)) == NULL ||
	    (p.counts = DB_EXEC(r->db, STMT_JOB_COUNT_BY_STATE, who)) == NULL) {
		log_error(r->id, "jobs: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		goto out;
	}
	p.total = PQntuples(p.rows) ? (long)db_i64(p.rows, 0, 12) : 0;
	p.dead = count_of(&p, "dead");
	page_render(r, 200, "Jobs", "jobs", PAGE_NAV_JOBS, TMPL_JOBS, jobs_cb, &p);
out:
	PQclear(p.rows);
	PQclear(p.counts);
}

void
h_jobs_retry(struct req *r)
{
	int64_t id = page_id(req_form(r, "id"));
	const char *back = page_back(r, "/jobs");
	char uid[DB_I64_LEN], jid[DB_I64_LEN];
	PGresult *res;

	if (id <= 0) {
		page_done(r, back, PAGE_FLASH_ERROR, "No job was named.");
		return;
	}
	/* A user retries only their own jobs, whatever the form says; an admin any. */
	if ((res = DB_EXEC(r->db, STMT_JOB_RETRY, db_i64s(id, jid),
	    r->user.is_admin ? NULL : db_i64s(r->user.id, uid))) == NULL) {
		log_error(r->id, "job retry: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	if (PQntuples(res) == 1) {
		page_audit(r, "job.retry", arena_printf(&r->arena, "{\"job_id\": %s}", jid));
		page_done(r, back, PAGE_FLASH_OK, "Job %s is queued again.", jid);
	} else
		page_done(r, back, PAGE_FLASH_ERROR, "Job %s cannot be retried: it is not failed, dead or paused, "
		    "or it is not yours.", jid);
	PQclear(res);
}

void
h_jobs_retry_dead(struct req *r)
{
	int64_t scope = page_scope(r, 1, 0);
	const char *back = page_back(r, "/jobs");
	char uid[DB_I64_LEN];
	PGresult *res;

	if ((res = DB_EXEC(r->db, STMT_JOB_RETRY_DEAD, scope ? db_i64s(scope, uid) : NULL)) == NULL) {
		log_error(r->id, "retry dead: %s", r->db->err);
		resp_error(r, 503, "The database is unavailable; try again in a moment.");
		return;
	}
	page_audit(r, "job.retry_dead", arena_printf(&r->arena, "{\"count\": %s}", db_str(res, 0, 0)));
	page_done(r, back, PAGE_FLASH_OK, "%s dead job%s queued again.", db_str(res, 0, 0),
	    strcmp(db_str(res, 0, 0), "1") == 0 ? "" : "s");
	PQclear(res);
}
