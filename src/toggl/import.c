/* import.c: history import, and the merge of API time entries every bulk path shares.
 *
 * Two ways to read history. The Reports API v3 detailed search, per workspace, in chunks of at most a year,
 * paged by X-Next-Row-Number: used when every workspace's plan has it (a 402 without quota headers says it
 * does not, and the import falls back). Otherwise windows of GET /me/time_entries over the start time:
 * that call returns at most LIMIT_TOGGL_ENTRIES_CAP rows, so a window that comes back full is split in half
 * and read again, and the next window is sized from the density of the last (aiming at
 * LIMIT_TOGGL_WINDOW_TARGET rows), which keeps requests, and quota, low.
 *
 * Each page is merged in one statement with the receiver's rules (STMT_TOGGL_ENTRIES_MERGE), so a second
 * run changes nothing. After each page the position is checkpointed in toggl_import_runs: an interrupted
 * run of the same user and range continues there. At the end, live entries of the range that no page
 * contained (deleted or moved in Toggl while nobody told us) are looked up one by one, up to
 * LIMIT_TOGGL_VERIFY_MAX: a 404 tombstones them. One importer per user runs at a time (advisory lock). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "toggl/toggl.h"
#include "util/log.h"
#include "util/tbtime.h"

#define DAY_S            86400
#define TOGGL_EPOCH_S    1136073600     /* 2006-01-01: nothing in Toggl is older */
#define MAX_WORKSPACES   256

/* ---- pure parts ---- */

int64_t
toggl_window_next(int64_t span, long rows)
{
	int64_t next;

	if (span < LIMIT_TOGGL_WINDOW_MIN_S)
		span = LIMIT_TOGGL_WINDOW_MIN_S;
	if (rows <= 0)
		next = span * 4;
	else
		next = (int64_t)((double)span * LIMIT_TOGGL_WINDOW_TARGET / (double)rows);
	/* Density changes (holidays, busy weeks): move towards the estimate, but never by more than 4x. */
	if (next > span * 4)
		next = span * 4;
	if (next < span / 4)
		next = span / 4;
	if (next > LIMIT_TOGGL_WINDOW_MAX_S)
		next = LIMIT_TOGGL_WINDOW_MAX_S;
	if (next < LIMIT_TOGGL_WINDOW_MIN_S)
		next = LIMIT_TOGGL_WINDOW_MIN_S;
	return next;
}

int64_t
toggl_window_split(int64_t span)
{
	if (span <= LIMIT_TOGGL_WINDOW_MIN_S)
		return -1;
	span /= 2;
	return span < LIMIT_TOGGL_WINDOW_MIN_S ? LIMIT_TOGGL_WINDOW_MIN_S : span;
}

json_t *
toggl_entry_record(json_t *entry, int64_t default_user, char *err, size_t errsz)
{
	struct toggl_entry e;
	char stop[TB_RFC3339_SIZE];
	json_t *rec, *stopv;

	if (toggl_entry_parse(entry, TOGGL_ENTRY_FULL, &e, err, errsz) != 0)
		return NULL;
	if (!e.has_workspace) {
		snprintf(err, errsz, "entry %" PRId64 ": workspace_id is missing", e.id);
		toggl_entry_free(&e);
		return NULL;
	}
	if (!e.has_user && default_user <= 0) {
		snprintf(err, errsz, "entry %" PRId64 ": user_id is missing", e.id);
		toggl_entry_free(&e);
		return NULL;
	}
	if (e.stop != NULL)
		stopv = json_string(e.stop);
	else if (e.stop_derived && tb_format_rfc3339(e.stop_ms / 1000, stop) == 0)
		stopv = json_string(stop);
	else
		stopv = json_null();
	/* Rows without tag names (the Reports API) take them from toggl_tags in the statement. */
	rec = json_pack("{sI sI sI so so so sb ss so sI so sO ss so}",
	    "id", (json_int_t)e.id, "toggl_user_id", (json_int_t)(e.has_user ? e.user_id : default_user),
	    "workspace_id", (json_int_t)e.workspace_id,
	    "project_id", e.has_project ? json_integer(e.project_id) : json_null(),
	    "task_id", e.has_task ? json_integer(e.task_id) : json_null(),
	    "description", e.description ? json_string(e.description) : json_null(),
	    "billable", e.billable, "start", e.start, "stop", stopv, "duration", (json_int_t)e.duration,
	    "tags", json_object_get(entry, "tags") != NULL ? json_incref(e.tags) : json_null(),
	    "tag_ids", e.tag_ids, "at", e.at,
	    "server_deleted_at", e.server_deleted_at ? json_string(e.server_deleted_at) : json_null());
	if (rec == NULL)
		snprintf(err, errsz, "entry %" PRId64 ": out of memory or invalid UTF-8", e.id);
	toggl_entry_free(&e);
	return rec;
}

json_t *
toggl_report_row_entry(json_t *row, json_t *te, int64_t wid)
{
	static const char *const from_row[] = { "user_id", "project_id", "task_id", "billable", "tag_ids" };
	json_t *o, *v;

	if (!json_is_object(row) || !json_is_object(te) || (o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "workspace_id", json_integer(wid));
	for (size_t i = 0; i < sizeof(from_row) / sizeof(from_row[0]); i++)
		if ((v = json_object_get(row, from_row[i])) != NULL)
			json_object_set(o, from_row[i], v);
	/* Reports cannot tell "" from no description; the API says null for the latter. */
	v = json_object_get(row, "description");
	if (json_is_string(v) && json_string_length(v) > 0)
		json_object_set(o, "description", v);
	if ((v = json_object_get(te, "id")) != NULL)
		json_object_set(o, "id", v);
	if ((v = json_object_get(te, "start")) != NULL)
		json_object_set(o, "start", v);
	if ((v = json_object_get(te, "stop")) != NULL)
		json_object_set(o, "stop", v);
	if ((v = json_object_get(te, "seconds")) != NULL)
		json_object_set(o, "duration", v);
	if ((v = json_object_get(te, "at")) != NULL)
		json_object_set(o, "at", v);
	return o;
}

/* ---- merging ---- */

enum toggl_rc
toggl_entries_merge(struct toggl_sync *s, json_t *entries, int64_t run_id, struct toggl_import_stats *st)
{
	char uid[DB_I64_LEN], run[DB_I64_LEN], err[256];
	json_t *recs = json_array(), *item, *rec;
	char *text = NULL;
	long given, ins, upd, del, bad = 0;
	enum toggl_rc rc = TOGGL_RETRY;
	PGresult *r;
	size_t i;

	if (recs == NULL)
		goto oom;
	json_array_foreach(entries, i, item) {
		if ((rec = toggl_entry_record(item, s->toggl_user_id, err, sizeof(err))) == NULL) {
			/* One malformed entry must not stop the history: count it, say which, go on. */
			if (bad++ == 0)
				log_warn(s->ctx, "toggl: skipping a time entry Toggl sent: %s", err);
			continue;
		}
		json_array_append_new(recs, rec);
	}
	st->fetched += (long)json_array_size(entries);
	st->skipped += bad;
	if (json_array_size(recs) == 0) {
		rc = TOGGL_OK;
		goto out;
	}
	if ((text = json_dumps(recs, JSON_COMPACT)) == NULL)
		goto oom;
	if ((r = DB_EXEC(s->db, STMT_TOGGL_ENTRIES_MERGE, db_i64s(s->user_id, uid), text,
	        run_id > 0 ? db_i64s(run_id, run) : NULL)) == NULL) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		s->retry_after_s = 0;
		goto out;
	}
	ins = (long)db_i64(r, 0, 0);
	upd = (long)db_i64(r, 0, 1);
	del = (long)db_i64(r, 0, 2);
	given = (long)json_array_size(recs);
	PQclear(r);
	st->inserted += ins;
	st->updated += upd;
	st->deleted += del;
	st->unchanged += given - ins - upd - del;
	rc = TOGGL_OK;
	goto out;
oom:
	snprintf(s->err, sizeof(s->err), "out of memory");
out:
	free(text);
	json_decref(recs);
	return rc;
}

/* ---- the import run ---- */

struct cursor {
	char     method[16];   /* "reports" or "time_entries"; "" until chosen */
	int      phase;        /* 0: reading, 1: checking unseen entries */
	int64_t  pos, span;    /* time_entries: the next window */
	int      wi;           /* reports: index into the workspaces */
	int64_t  day;          /* reports: first day of the chunk (unix s) */
	long     row;          /* reports: first_row_number */
};

struct run {
	int64_t        id;
	double         started;
	struct cursor  c;
	int64_t        wids[MAX_WORKSPACES];
	int            nwids;
	int            all_reports;
	long           base_requests;   /* requests and waits of earlier processes of this run */
	long           base_waits;
};

static void
cursor_load(struct cursor *c, const char *text)
{
	json_error_t jerr;
	json_t *j = text ? json_loads(text, 0, &jerr) : NULL, *v;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	if (json_is_string(v = json_object_get(j, "method")))
		snprintf(c->method, sizeof(c->method), "%s", json_string_value(v));
	c->phase = (int)json_integer_value(json_object_get(j, "phase"));
	c->pos = json_integer_value(json_object_get(j, "pos"));
	c->span = json_integer_value(json_object_get(j, "span"));
	c->wi = (int)json_integer_value(json_object_get(j, "wi"));
	c->day = json_integer_value(json_object_get(j, "day"));
	c->row = (long)json_integer_value(json_object_get(j, "row"));
	json_decref(j);
}

static int
run_save(struct toggl_sync *s, struct run *run, struct toggl_import_stats *st)
{
	char id[DB_I64_LEN], job[DB_I64_LEN], cur[256], n[10][DB_I64_LEN];
	long v[10] = { st->fetched, st->inserted, st->updated, st->unchanged, st->deleted, st->requests,
	               st->windows, st->splits, st->quota_waits, st->resumes };

	snprintf(cur, sizeof(cur), "{\"method\": \"%s\", \"phase\": %d, \"pos\": %" PRId64 ", \"span\": %" PRId64
	    ", \"wi\": %d, \"day\": %" PRId64 ", \"row\": %ld}", run->c.method, run->c.phase, run->c.pos, run->c.span,
	    run->c.wi, run->c.day, run->c.row);
	for (int i = 0; i < 10; i++)
		db_i64s(v[i], n[i]);
	if (DB_RUN(s->db, STMT_TOGGL_IMPORT_SAVE, db_i64s(run->id, id), run->c.method[0] ? run->c.method : NULL, cur,
	        n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9],
	        s->job_id > 0 ? db_i64s(s->job_id, job) : NULL) != 0) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		return -1;
	}
	return 0;
}

static void
run_finish(struct toggl_sync *s, struct run *run, const char *state, const char *error)
{
	char id[DB_I64_LEN];

	db_i64s(run->id, id);
	if (DB_RUN(s->db, STMT_TOGGL_IMPORT_FINISH, id, state, error) != 0)
		log_error(s->ctx, "toggl: import run %" PRId64 ": %s", run->id, s->db->err);
	if (strcmp(state, "running") != 0 && DB_RUN(s->db, STMT_TOGGL_IMPORT_SEEN_CLEAR, id) != 0)
		log_warn(s->ctx, "toggl: import run %" PRId64 ": clearing seen entries: %s", run->id, s->db->err);
}

static void
progress(struct toggl_sync *s, struct run *run, struct toggl_import_stats *st)
{
	st->requests = run->base_requests + s->api.requests;
	st->quota_waits = run->base_waits + s->api.waits;
	st->waited_s = s->api.waited_s;
	if (s->progress != NULL)
		s->progress(s->hook_arg, st);
}

static void
load_stats(PGresult *r, struct toggl_import_stats *st, struct run *run)
{
	run->id = db_i64(r, 0, 0);
	cursor_load(&run->c, db_str(r, 0, 2));
	st->fetched = (long)db_i64(r, 0, 3);
	st->inserted = (long)db_i64(r, 0, 4);
	st->updated = (long)db_i64(r, 0, 5);
	st->unchanged = (long)db_i64(r, 0, 6);
	st->deleted = (long)db_i64(r, 0, 7);
	run->base_requests = st->requests = (long)db_i64(r, 0, 8);
	run->base_waits = st->quota_waits = (long)db_i64(r, 0, 11);
	st->windows = (long)db_i64(r, 0, 9);
	st->splits = (long)db_i64(r, 0, 10);
	st->resumes = (long)db_i64(r, 0, 12);
	run->started = db_str(r, 0, 13) ? strtod(db_str(r, 0, 13), NULL) : 0;
}

static void
format_date(int64_t epoch_s, char out[16])
{
	int64_t y;
	int m, d;

	tb_civil_from_days(epoch_s >= 0 ? epoch_s / DAY_S : (epoch_s - DAY_S + 1) / DAY_S, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d-%02d", (int)y, m, d);
}

/* Open (resume) or start the run of [lo, hi). 1: resumed, 0: new, -1: error (s->err). */
static int
run_open(struct toggl_sync *s, const struct toggl_import_opts *o, struct run *run, struct toggl_import_stats *st)
{
	char uid[DB_I64_LEN], since[16], until[16], job[DB_I64_LEN];
	PGresult *r;
	int resumed = 0;

	db_i64s(s->user_id, uid);
	format_date(o->since_s, since);
	format_date(o->until_s - DAY_S, until);
	if ((r = DB_EXEC(s->db, STMT_TOGGL_IMPORT_OPEN, uid, since, until)) == NULL)
		goto db;
	if (PQntuples(r) == 1 && o->restart) {
		run->id = db_i64(r, 0, 0);
		run_finish(s, run, "failed", "restarted from the beginning");
	} else if (PQntuples(r) == 1) {
		load_stats(r, st, run);
		resumed = 1;
	}
	PQclear(r);
	if (!resumed) {
		if ((r = DB_EXEC(s->db, STMT_TOGGL_IMPORT_START, uid, since, until,
		        s->job_id > 0 ? db_i64s(s->job_id, job) : NULL)) == NULL)
			goto db;
		load_stats(r, st, run);
		PQclear(r);
	}
	st->run_id = run->id;
	return resumed;
db:
	snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
	return -1;
}

static int
load_workspaces(struct toggl_sync *s, struct run *run)
{
	char uid[DB_I64_LEN];
	PGresult *r;

	if ((r = DB_EXEC(s->db, STMT_TOGGL_WORKSPACES_OF_USER, db_i64s(s->user_id, uid))) == NULL) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		return -1;
	}
	run->nwids = 0;
	run->all_reports = PQntuples(r) > 0;
	for (int i = 0; i < PQntuples(r) && run->nwids < MAX_WORKSPACES; i++) {
		run->wids[run->nwids++] = db_i64(r, i, 0);
		if (!db_bool(r, i, 3))
			run->all_reports = 0;
	}
	PQclear(r);
	return 0;
}

static void
use_windows(struct run *run, const struct toggl_import_opts *o)
{
	snprintf(run->c.method, sizeof(run->c.method), "time_entries");
	run->c.pos = o->since_s;
	run->c.span = LIMIT_TOGGL_WINDOW_INIT_S;
}

/* Read /me/time_entries windows from the cursor to the end of the range. */
static enum toggl_rc
read_windows(struct toggl_sync *s, const struct toggl_import_opts *o, struct run *run,
    struct toggl_import_stats *st)
{
	struct api_toggl_entries_query q;
	json_t *page = NULL, *keep = NULL, *item, *v;
	enum toggl_rc rc = TOGGL_OK;
	int64_t hi, span, ms;
	size_t i, n;

	if (run->c.span <= 0)
		run->c.span = LIMIT_TOGGL_WINDOW_INIT_S;
	while (run->c.pos < o->until_s) {
		hi = run->c.pos + run->c.span;
		if (hi > o->until_s)
			hi = o->until_s;
		memset(&q, 0, sizeof(q));
		q.start = run->c.pos;
		q.end = hi;
		if (api_toggl_time_entries(&s->api, &q, &page) != API_TOGGL_OK) {
			rc = toggl_sync_fail(s, "reading time entries");
			goto out;
		}
		n = json_array_size(page);
		if (n >= LIMIT_TOGGL_ENTRIES_CAP) {
			/* Full: there may be more than the cap in it. Read the first half again. */
			if ((span = toggl_window_split(hi - run->c.pos)) < 0) {
				snprintf(s->err, sizeof(s->err), "more than %d time entries start within %d s of %" PRId64
				    ": they cannot be read through /me/time_entries", LIMIT_TOGGL_ENTRIES_CAP,
				    LIMIT_TOGGL_WINDOW_MIN_S, run->c.pos);
				rc = TOGGL_FATAL;
				goto out;
			}
			run->c.span = span;
			st->splits++;
			json_decref(page);
			page = NULL;
			continue;
		}
		/* The window is [pos, hi): whatever an inclusive end_date let through belongs to the next one. */
		if ((keep = json_array()) == NULL) {
			snprintf(s->err, sizeof(s->err), "out of memory");
			rc = TOGGL_RETRY;
			goto out;
		}
		json_array_foreach(page, i, item) {
			v = json_object_get(item, "start");
			if (json_is_string(v) && tb_parse_rfc3339(json_string_value(v), &ms) == 0 &&
			    (ms / 1000 < run->c.pos || ms / 1000 >= hi))
				continue;
			json_array_append(keep, item);
		}
		if ((rc = toggl_entries_merge(s, keep, run->id, st)) != TOGGL_OK)
			goto out;
		st->windows++;
		run->c.span = toggl_window_next(hi - run->c.pos, (long)n);
		run->c.pos = hi;
		st->pos = hi;
		progress(s, run, st);
		if (run_save(s, run, st) != 0) {
			rc = TOGGL_RETRY;
			goto out;
		}
		json_decref(page);
		json_decref(keep);
		page = keep = NULL;
	}
out:
	json_decref(page);
	json_decref(keep);
	return rc;
}

/* Read the Reports API detailed search of every workspace from the cursor on. TOGGL_FATAL with
 * s->api.res == API_TOGGL_PAID means the plan lacks it: the caller falls back to windows. */
static enum toggl_rc
read_reports(struct toggl_sync *s, const struct toggl_import_opts *o, struct run *run,
    struct toggl_import_stats *st)
{
	char d0[16], d1[16], what[96];
	json_t *body = NULL, *page = NULL, *entries = NULL, *row, *te, *e, *tes;
	enum toggl_rc rc = TOGGL_OK;
	/* Report days are the user's local days: a day more on each side covers the UTC range whatever the
	 * zone (the extra entries are real ones, merged like the others). */
	int64_t wid, end, lo = o->since_s - DAY_S, hi = o->until_s + DAY_S, span = hi - lo;
	size_t i, k;

	if (run->c.day < lo)
		run->c.day = lo;
	if (run->c.row < 1)
		run->c.row = 1;
	for (; run->c.wi < run->nwids; run->c.wi++, run->c.day = lo, run->c.row = 1) {
		wid = run->wids[run->c.wi];
		while (run->c.day < hi) {
			end = run->c.day + (int64_t)LIMIT_TOGGL_REPORTS_SPAN_D * DAY_S;
			if (end > hi)
				end = hi;
			format_date(run->c.day, d0);
			format_date(end - DAY_S, d1);
			body = json_pack("{ss ss s[I] ss ss si si}", "start_date", d0, "end_date", d1, "user_ids",
			    (json_int_t)s->toggl_user_id, "order_by", "date", "order_dir", "ASC",
			    "page_size", LIMIT_TOGGL_REPORTS_PAGE, "first_row_number", (int)run->c.row);
			if (body == NULL) {
				snprintf(s->err, sizeof(s->err), "out of memory");
				rc = TOGGL_RETRY;
				goto out;
			}
			if (api_toggl_reports_search(&s->api, wid, body, &page) != API_TOGGL_OK) {
				snprintf(what, sizeof(what), "reading the detailed report of workspace %" PRId64, wid);
				rc = toggl_sync_fail(s, what);
				goto out;
			}
			if ((entries = json_array()) == NULL) {
				snprintf(s->err, sizeof(s->err), "out of memory");
				rc = TOGGL_RETRY;
				goto out;
			}
			json_array_foreach(page, i, row) {
				tes = json_object_get(row, "time_entries");
				json_array_foreach(tes, k, te)
					if ((e = toggl_report_row_entry(row, te, wid)) != NULL)
						json_array_append_new(entries, e);
			}
			if ((rc = toggl_entries_merge(s, entries, run->id, st)) != TOGGL_OK)
				goto out;
			st->windows++;
			if (s->api.next_row > run->c.row)
				run->c.row = s->api.next_row;
			else {
				run->c.day = end;
				run->c.row = 1;
			}
			st->pos = o->since_s + (int64_t)((double)(o->until_s - o->since_s) * ((double)run->c.wi * (double)span +
			    (double)(run->c.day - lo)) / ((double)run->nwids * (double)span));
			progress(s, run, st);
			if (run_save(s, run, st) != 0) {
				rc = TOGGL_RETRY;
				goto out;
			}
			json_decref(body);
			json_decref(page);
			json_decref(entries);
			body = page = entries = NULL;
		}
	}
out:
	json_decref(body);
	json_decref(page);
	json_decref(entries);
	return rc;
}

/* Look up, one by one, live entries of the range that no page contained. */
static enum toggl_rc
verify_unseen(struct toggl_sync *s, const struct toggl_import_opts *o, struct run *run,
    struct toggl_import_stats *st)
{
	char id[DB_I64_LEN], uid[DB_I64_LEN], tuid[DB_I64_LEN], lo[DB_I64_LEN], hi[DB_I64_LEN], lim[16], eid[DB_I64_LEN];
	char wids[MAX_WORKSPACES * 21 + 3];
	int reports = strcmp(run->c.method, "reports") == 0;
	int64_t from = o->since_s, to = o->until_s, e;
	json_t *obj = NULL, *one = NULL;
	enum toggl_rc rc = TOGGL_OK;
	PGresult *r;
	size_t w = 0;
	int n;

	if (reports) {
		w += (size_t)snprintf(wids + w, sizeof(wids) - w, "{");
		for (int i = 0; i < run->nwids; i++)
			w += (size_t)snprintf(wids + w, sizeof(wids) - w, "%s%" PRId64, i ? "," : "", run->wids[i]);
		snprintf(wids + w, sizeof(wids) - w, "}");
	}
	if (to > tb_now_ms() / 1000)
		to = tb_now_ms() / 1000;
	if (from >= to)
		return TOGGL_OK;
	snprintf(lim, sizeof(lim), "%d", LIMIT_TOGGL_VERIFY_MAX + 1);
	if (DB_RUN0(s->db, STMT_TOGGL_IMPORT_SEEN_ANALYZE) != 0)
		log_warn(s->ctx, "toggl: analyzing the seen entries: %s", s->db->err);
	if ((r = DB_EXEC(s->db, STMT_TOGGL_IMPORT_UNSEEN, db_i64s(run->id, id), db_i64s(s->user_id, uid),
	        db_i64s(s->toggl_user_id, tuid), db_i64s(from, lo), db_i64s(to, hi), lim, reports ? wids : NULL,
	        reports ? "false" : "true")) == NULL) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		return TOGGL_RETRY;
	}
	n = PQntuples(r);
	if (n > LIMIT_TOGGL_VERIFY_MAX) {
		log_warn(s->ctx, "toggl: more than %d entries of the range were not in Toggl's answers; checking %d, "
		    "the reconciliation catches the rest if they were deleted", LIMIT_TOGGL_VERIFY_MAX,
		    LIMIT_TOGGL_VERIFY_MAX);
		n = LIMIT_TOGGL_VERIFY_MAX;
	}
	for (int i = 0; i < n; i++) {
		e = db_i64(r, i, 0);
		if (api_toggl_time_entry(&s->api, e, &obj) == API_TOGGL_OK) {
			/* Still there: it moved or changed while we were not told. */
			if ((one = json_array()) == NULL || json_array_append_new(one, obj) != 0) {
				snprintf(s->err, sizeof(s->err), "out of memory");
				rc = TOGGL_RETRY;
				break;
			}
			obj = NULL;
			st->fetched--;   /* counted by the merge, but not part of the range's reading */
			if ((rc = toggl_entries_merge(s, one, 0, st)) != TOGGL_OK)
				break;
			json_decref(one);
			one = NULL;
		} else if (s->api.res == API_TOGGL_NOT_FOUND) {
			PGresult *t = DB_EXEC(s->db, STMT_TOGGL_ENTRY_TOMBSTONE, db_i64s(e, eid), uid);
			if (t == NULL) {
				snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
				rc = TOGGL_RETRY;
				break;
			}
			st->deleted += (long)db_i64(t, 0, 0);
			PQclear(t);
		} else {
			rc = toggl_sync_fail(s, "checking an entry missing from Toggl's answers");
			break;
		}
		st->verified++;
	}
	PQclear(r);
	json_decref(obj);
	json_decref(one);
	return rc;
}

enum toggl_rc
toggl_import(struct toggl_sync *s, const struct toggl_import_opts *o, struct toggl_import_stats *st)
{
	char uid[DB_I64_LEN];
	struct run run;
	enum toggl_rc rc;
	PGresult *r;
	int locked = 0, resumed;

	memset(st, 0, sizeof(*st));
	memset(&run, 0, sizeof(run));
	st->lo = st->pos = o->since_s;
	st->hi = o->until_s;
	if ((rc = toggl_sync_require(s)) != TOGGL_OK)
		return rc;
	if (o->since_s < TOGGL_EPOCH_S || o->until_s <= o->since_s || o->until_s > tb_now_ms() / 1000 + 2 * DAY_S) {
		snprintf(s->err, sizeof(s->err), "the range must start on or after 2006-01-01 and end after it starts, "
		    "by tomorrow at the latest");
		return TOGGL_FATAL;
	}
	db_i64s(s->user_id, uid);
	if ((r = DB_EXEC(s->db, STMT_TOGGL_IMPORT_LOCK, uid)) == NULL) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		return TOGGL_RETRY;
	}
	locked = db_bool(r, 0, 0);
	PQclear(r);
	if (!locked) {
		snprintf(s->err, sizeof(s->err), "another import of this user is running (a job or another `timebridge "
		    "import`); wait for it to finish");
		s->retry_after_s = 60;
		return TOGGL_CONFLICT;
	}
	if ((resumed = run_open(s, o, &run, st)) < 0) {
		rc = TOGGL_RETRY;
		goto out;
	}
	if (resumed) {
		st->resumes++;
		log_info(s->ctx, "toggl: import run %" PRId64 " resumed (%ld entries read before)", run.id, st->fetched);
	} else if ((rc = toggl_metadata_refresh(s)) != TOGGL_OK) {
		/* Names of projects and tags first; a run that cannot get them now is resumed later. */
		goto stop;
	}
	if (load_workspaces(s, &run) != 0) {
		rc = TOGGL_RETRY;
		goto stop;
	}
	if (run.c.method[0] == '\0') {
		if (run.all_reports) {
			snprintf(run.c.method, sizeof(run.c.method), "reports");
			run.c.day = o->since_s - DAY_S;
			run.c.row = 1;
		} else
			use_windows(&run, o);
	}
	st->method = strcmp(run.c.method, "reports") == 0 ? "reports" : "time_entries";
	if (run_save(s, &run, st) != 0) {
		rc = TOGGL_RETRY;
		goto stop;
	}
	progress(s, &run, st);
	if (run.c.phase == 0 && strcmp(run.c.method, "reports") == 0) {
		rc = read_reports(s, o, &run, st);
		if (rc == TOGGL_FATAL && s->api.res == API_TOGGL_PAID) {
			/* 402 without quota headers: the plan lacks the Reports API. Never ask again for that
			 * workspace; /me/time_entries covers every workspace. */
			char w[DB_I64_LEN];
			if (DB_RUN(s->db, STMT_TOGGL_WORKSPACE_SET_PREMIUM, db_i64s(run.wids[run.c.wi], w), "false") != 0)
				log_warn(s->ctx, "toggl: %s", s->db->err);
			log_info(s->ctx, "toggl: %s: falling back to /me/time_entries windows", s->err);
			use_windows(&run, o);
			st->method = "time_entries";
			if (run_save(s, &run, st) != 0) {
				rc = TOGGL_RETRY;
				goto stop;
			}
			rc = TOGGL_OK;
		} else if (rc != TOGGL_OK)
			goto stop;
	}
	if (run.c.phase == 0 && strcmp(run.c.method, "time_entries") == 0 &&
	    (rc = read_windows(s, o, &run, st)) != TOGGL_OK)
		goto stop;
	run.c.phase = 1;
	if (run_save(s, &run, st) != 0) {
		rc = TOGGL_RETRY;
		goto stop;
	}
	if ((rc = verify_unseen(s, o, &run, st)) != TOGGL_OK)
		goto stop;
	st->pos = o->until_s;
	progress(s, &run, st);
	if (run_save(s, &run, st) != 0) {
		rc = TOGGL_RETRY;
		goto stop;
	}
	run_finish(s, &run, "done", NULL);
	if (toggl_metadata_check(s->db, s->user_id, (int64_t)run.started) < 0)
		log_warn(s->ctx, "toggl: checking for unknown projects and tags: %s", s->db->err);
	log_info(s->ctx, "toggl: import run %" PRId64 " done via %s: %ld fetched, %ld inserted, %ld updated, "
	    "%ld unchanged, %ld deleted, %ld requests", run.id, st->method, st->fetched, st->inserted, st->updated,
	    st->unchanged, st->deleted, st->requests);
	rc = TOGGL_OK;
	goto out;
stop:
	progress(s, &run, st);
	if (run.id > 0) {
		(void)run_save(s, &run, st);
		/* Transient trouble and a refused token leave the run resumable; anything else ends it. */
		run_finish(s, &run, rc == TOGGL_RETRY || rc == TOGGL_AUTH ? "running" : "failed", s->err);
	}
out:
	if (locked && DB_RUN(s->db, STMT_TOGGL_IMPORT_UNLOCK, uid) != 0)
		log_warn(s->ctx, "toggl: releasing the import lock: %s", s->db->err);
	return rc;
}

/* "YYYY-MM-DD" to unix seconds at 00:00 UTC. */
static int
date_s(const char *s, int64_t *out)
{
	int y, m, d;

	if (s == NULL || tb_parse_date(s, &y, &m, &d) != 0)
		return -1;
	*out = tb_days_from_civil(y, m, d) * DAY_S;
	return 0;
}

int
toggl_import_enqueue(struct db *db, int64_t user_id, const char *since, const char *until, char *err, size_t errsz)
{
	char key[64], payload[96], today[16];
	int64_t a, b;

	if (until == NULL || until[0] == '\0') {
		format_date(tb_now_ms() / 1000, today);
		until = today;
	}
	if (date_s(since, &a) != 0 || date_s(until, &b) != 0) {
		snprintf(err, errsz, "dates are YYYY-MM-DD");
		return -1;
	}
	if (a < TOGGL_EPOCH_S || b < a || b > tb_now_ms() / 1000 + DAY_S) {
		snprintf(err, errsz, "the range must start on or after 2006-01-01 and end after it starts, by tomorrow "
		    "at the latest");
		return -1;
	}
	snprintf(key, sizeof(key), "toggl.import:%" PRId64, user_id);
	snprintf(payload, sizeof(payload), "{\"since\": \"%s\", \"until\": \"%s\"}", since, until);
	if (db_job_enqueue(db, "toggl.import", payload, user_id, key, 0) < 0) {
		snprintf(err, errsz, "database: %s", db->err);
		return -1;
	}
	return 0;
}

json_t *
toggl_import_last(struct db *db, int64_t user_id)
{
	char uid[DB_I64_LEN];
	json_t *o;
	PGresult *r;

	if ((r = DB_EXEC(db, STMT_TOGGL_IMPORT_LAST, db_i64s(user_id, uid))) == NULL)
		return NULL;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return NULL;
	}
#define S(c) (db_str(r, 0, (c)) ? json_string(db_str(r, 0, (c))) : json_null())
#define I(c) ((json_int_t)db_i64(r, 0, (c)))
	o = json_pack("{sI so so so so sI sI sI sI sI sI sI sI sI sI so so so so so}", "id", I(0), "since", S(1),
	    "until", S(2), "state", S(3), "method", S(4), "fetched", I(5), "inserted", I(6), "updated", I(7),
	    "unchanged", I(8), "deleted", I(9), "requests", I(10), "windows", I(11), "splits", I(12),
	    "quota_waits", I(13), "resumes", I(14), "last_error", S(15), "started_at", S(16), "updated_at", S(17),
	    "finished_at", S(18), "job_id", db_isnull(r, 0, 19) ? json_null() : json_integer(I(19)));
#undef S
#undef I
	PQclear(r);
	return o;
}
