/* metadata.c: the names behind the ids of time entries: organisations, workspaces, projects (every page),
 * clients and tags, fetched from Toggl and merged in one statement per page. Requests for a refresh from
 * code that meets an unknown id (the webhook receiver, import, reconciliation) are batched into one
 * toggl.metadata job per user: never one call per entry. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "toggl/toggl.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/tbtime.h"

enum kind { K_PROJECT, K_CLIENT, K_TAG };

static json_t *
copy_or_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return v != NULL ? json_incref(v) : json_null();
}

static json_t *
str_or_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_incref(v) : json_null();
}

static json_t *
id_or_null(json_t *o, const char *k, const char *legacy)
{
	int64_t id;

	if (toggl_json_id(o, k, 0, &id) == 1 || (legacy && toggl_json_id(o, legacy, 0, &id) == 1))
		return json_integer(id);
	return json_null();
}

/* A timestamp member if it parses as RFC 3339 (PostgreSQL would refuse the statement otherwise). */
static json_t *
time_or_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	int64_t ms;

	if (json_is_string(v) && tb_parse_rfc3339(json_string_value(v), &ms) == 0)
		return json_incref(v);
	return json_null();
}

static int
is_set(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return v != NULL && !json_is_null(v);
}

/* One listing item as a record of the merge statement of its kind; NULL when it has no usable id. wid
 * fills a missing workspace. */
static json_t *
record(enum kind k, json_t *item, int64_t wid)
{
	json_t *r, *ws, *rate;
	int64_t id;

	if (!json_is_object(item) || toggl_json_id(item, "id", 0, &id) != 1)
		return NULL;
	ws = id_or_null(item, "workspace_id", "wid");
	if (json_is_null(ws)) {
		json_decref(ws);
		ws = json_integer(wid);
	}
	switch (k) {
	case K_PROJECT:
		rate = json_object_get(item, "rate");
		r = json_pack("{sI so so so so so so so so so sb}", "id", (json_int_t)id, "workspace_id", ws,
		    "client_id", id_or_null(item, "client_id", "cid"), "name", str_or_null(item, "name"),
		    "color", str_or_null(item, "color"), "active", copy_or_null(item, "active"),
		    "billable", copy_or_null(item, "billable"),
		    "rate", json_is_number(rate) ? json_incref(rate) : json_null(),
		    "currency", str_or_null(item, "currency"), "at", time_or_null(item, "at"),
		    "deleted", is_set(item, "server_deleted_at"));
		break;
	case K_CLIENT:
		r = json_pack("{sI so so so so sb}", "id", (json_int_t)id, "workspace_id", ws,
		    "name", str_or_null(item, "name"), "archived", copy_or_null(item, "archived"),
		    "at", time_or_null(item, "at"), "deleted", is_set(item, "server_deleted_at"));
		break;
	default:
		r = json_pack("{sI so so so sb}", "id", (json_int_t)id, "workspace_id", ws,
		    "name", str_or_null(item, "name"), "at", time_or_null(item, "at"),
		    "deleted", is_set(item, "deleted_at") || is_set(item, "server_deleted_at"));
		break;
	}
	/* Booleans of the wrong type would make the statement fail: drop them to their defaults. */
	if (r != NULL) {
		const char *keys[] = { "active", "billable", "archived" };
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *b = json_object_get(r, keys[i]);
			if (b != NULL && !json_is_boolean(b))
				json_object_set_new(r, keys[i], json_null());
		}
	}
	return r;
}

/* Merge one page of kind k for workspace wid; ids of the page are appended to seen ("{1,2,...}" body).
 * Returns rows changed, -1 on a database error. */
static long
merge_page(struct toggl_sync *s, enum kind k, json_t *page, int64_t wid, struct buf *seen, long *n)
{
	static const enum stmt merge[] = { STMT_TOGGL_PROJECTS_MERGE, STMT_TOGGL_CLIENTS_MERGE, STMT_TOGGL_TAGS_MERGE };
	json_t *recs = json_array(), *item, *rec;
	char *text = NULL;
	long changed = -1;
	PGresult *r;
	size_t i;

	if (recs == NULL)
		return -1;
	json_array_foreach(page, i, item) {
		if ((rec = record(k, item, wid)) == NULL) {
			log_warn(s->ctx, "toggl: a %s without a usable id in workspace %" PRId64 " skipped",
			    k == K_PROJECT ? "project" : k == K_CLIENT ? "client" : "tag", wid);
			continue;
		}
		buf_printf(seen, "%s%" JSON_INTEGER_FORMAT, seen->len > 1 ? "," : "",
		    json_integer_value(json_object_get(rec, "id")));
		json_array_append_new(recs, rec);
		(*n)++;
	}
	if ((text = json_dumps(recs, JSON_COMPACT)) == NULL)
		goto out;
	if ((r = DB_EXEC(s->db, merge[k], text)) == NULL)
		goto out;
	changed = (long)db_i64(r, 0, 0);
	PQclear(r);
out:
	free(text);
	json_decref(recs);
	return changed;
}

/* Fetch every page of kind k in workspace wid, merge, then sweep what the listing no longer has. */
static enum toggl_rc
refresh_kind(struct toggl_sync *s, enum kind k, int64_t wid, int64_t started_ms)
{
	static const enum stmt sweep[] = { STMT_TOGGL_PROJECTS_SWEEP, STMT_TOGGL_CLIENTS_SWEEP, STMT_TOGGL_TAGS_SWEEP };
	static const char *const what[] = { "listing projects", "listing clients", "listing tags" };
	struct buf seen = BUF_INIT;
	char w[DB_I64_LEN], t0[32], ctx[64];
	long *count = k == K_PROJECT ? &s->n_projects : k == K_CLIENT ? &s->n_clients : &s->n_tags;
	long changed;
	json_t *page = NULL;
	enum api_toggl_res r;
	enum toggl_rc rc = TOGGL_OK;
	PGresult *res;
	size_t got;

	buf_putc(&seen, '{');
	for (int p = 1;; p++) {
		if (p > LIMIT_TOGGL_PAGES_MAX) {
			snprintf(s->err, sizeof(s->err), "%s of workspace %" PRId64 ": more than %d pages", what[k], wid,
			    LIMIT_TOGGL_PAGES_MAX);
			rc = TOGGL_FATAL;
			goto out;
		}
		if (k == K_PROJECT)
			r = api_toggl_projects(&s->api, wid, p, LIMIT_TOGGL_PER_PAGE, &page);
		else if (k == K_TAG)
			r = api_toggl_tags(&s->api, wid, p, LIMIT_TOGGL_PER_PAGE, &page);
		else
			r = api_toggl_clients(&s->api, wid, &page);
		if (r != API_TOGGL_OK) {
			snprintf(ctx, sizeof(ctx), "%s of workspace %" PRId64, what[k], wid);
			rc = toggl_sync_fail(s, ctx);
			goto out;
		}
		got = json_array_size(page);
		if ((changed = merge_page(s, k, page, wid, &seen, count)) < 0) {
			snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
			rc = TOGGL_RETRY;
			goto out;
		}
		s->n_meta_changed += changed;
		json_decref(page);
		page = NULL;
		/* Clients come in one answer; the paged kinds end with a short page. */
		if (k == K_CLIENT || got < LIMIT_TOGGL_PER_PAGE)
			break;
	}
	buf_putc(&seen, '}');
	if (seen.oom) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		rc = TOGGL_RETRY;
		goto out;
	}
	snprintf(t0, sizeof(t0), "%.3f", (double)started_ms / 1000.0);
	if ((res = DB_EXEC(s->db, sweep[k], db_i64s(wid, w), seen.data, t0)) == NULL) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		rc = TOGGL_RETRY;
		goto out;
	}
	s->n_meta_changed += (long)db_i64(res, 0, 0);
	PQclear(res);
out:
	json_decref(page);
	buf_free(&seen);
	return rc;
}

/* Run a merge statement of user-level rows ($1 user, $2 records). */
static int
merge_user_rows(struct toggl_sync *s, enum stmt st, json_t *recs)
{
	char uid[DB_I64_LEN];
	char *text = json_dumps(recs, JSON_COMPACT);
	int rc;

	if (text == NULL)
		return -1;
	rc = DB_RUN(s->db, st, db_i64s(s->user_id, uid), text);
	free(text);
	return rc;
}

enum toggl_rc
toggl_metadata_refresh(struct toggl_sync *s)
{
	json_t *orgs = NULL, *wss = NULL, *recs = NULL, *item, *plan;
	int64_t started_ms = tb_now_ms(), id, org;
	enum toggl_rc rc;
	size_t i;
	int premium;

	if ((rc = toggl_sync_require(s)) != TOGGL_OK)
		return rc;
	s->n_orgs = s->n_workspaces = s->n_projects = s->n_clients = s->n_tags = s->n_meta_changed = 0;
	if (api_toggl_organizations(&s->api, &orgs) != API_TOGGL_OK)
		return toggl_sync_fail(s, "listing organizations");
	if ((recs = json_array()) == NULL)
		goto oom;
	json_array_foreach(orgs, i, item) {
		if (toggl_json_id(item, "id", 0, &id) != 1)
			continue;
		plan = json_object_get(item, "pricing_plan_name");
		json_array_append_new(recs, json_pack("{sI so so}", "id", (json_int_t)id, "name",
		    str_or_null(item, "name"), "plan", json_is_string(plan) ? json_incref(plan) : json_null()));
		s->n_orgs++;
	}
	if (merge_user_rows(s, STMT_TOGGL_ORGS_MERGE, recs) != 0)
		goto dberr;
	json_decref(recs);
	recs = NULL;

	if (api_toggl_workspaces(&s->api, &wss) != API_TOGGL_OK) {
		rc = toggl_sync_fail(s, "listing workspaces");
		goto out;
	}
	if ((recs = json_array()) == NULL)
		goto oom;
	json_array_foreach(wss, i, item) {
		if (toggl_json_id(item, "id", 0, &id) != 1)
			continue;
		if (toggl_json_id(item, "organization_id", 0, &org) != 1)
			org = 0;
		/* Reports v3 needs a paid plan; an import that gets a 402 for it clears this again. */
		premium = json_is_true(json_object_get(item, "premium")) || json_is_true(json_object_get(item, "business_ws"));
		json_array_append_new(recs, json_pack("{sI so so sb so}", "id", (json_int_t)id,
		    "organization_id", org > 0 ? json_integer(org) : json_null(), "name", str_or_null(item, "name"),
		    "premium", premium, "at", time_or_null(item, "at")));
		if (org > 0)
			api_toggl_set_org(&s->api, id, org);
		s->n_workspaces++;
	}
	if (merge_user_rows(s, STMT_TOGGL_WORKSPACES_MERGE, recs) != 0)
		goto dberr;
	json_array_foreach(recs, i, item) {
		id = json_integer_value(json_object_get(item, "id"));
		if ((rc = refresh_kind(s, K_PROJECT, id, started_ms)) != TOGGL_OK ||
		    (rc = refresh_kind(s, K_CLIENT, id, started_ms)) != TOGGL_OK ||
		    (rc = refresh_kind(s, K_TAG, id, started_ms)) != TOGGL_OK) {
			/* A 403 on one workspace while /me still works (toggl_sync_fail checked): that workspace is
			 * out of reach, the others are not. */
			if (rc == TOGGL_FATAL && s->api.res == API_TOGGL_OK) {
				log_warn(s->ctx, "toggl: %s; skipping workspace %" PRId64, s->err, id);
				continue;
			}
			goto out;
		}
	}
	log_info(s->ctx, "toggl: metadata of user %" PRId64 ": %ld organizations, %ld workspaces, %ld projects, "
	    "%ld clients, %ld tags, %ld rows changed", s->user_id, s->n_orgs, s->n_workspaces, s->n_projects,
	    s->n_clients, s->n_tags, s->n_meta_changed);
	rc = TOGGL_OK;
	goto out;
oom:
	snprintf(s->err, sizeof(s->err), "out of memory");
	rc = TOGGL_RETRY;
	goto out;
dberr:
	snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
	rc = TOGGL_RETRY;
out:
	json_decref(orgs);
	json_decref(wss);
	json_decref(recs);
	return rc;
}

int
toggl_metadata_request(struct db *db, int64_t user_id)
{
	char key[64];

	snprintf(key, sizeof(key), "toggl.metadata:%" PRId64, user_id);
	return db_job_enqueue(db, "toggl.metadata", "{}", user_id, key, LIMIT_TOGGL_METADATA_DELAY_S) < 0 ? -1 : 0;
}

long
toggl_metadata_check(struct db *db, int64_t user_id, int64_t since_s)
{
	char uid[DB_I64_LEN], since[DB_I64_LEN];
	PGresult *r;
	long n;

	if ((r = DB_EXEC(db, STMT_TOGGL_META_UNKNOWN, db_i64s(user_id, uid), db_i64s(since_s, since))) == NULL)
		return -1;
	n = (long)db_i64(r, 0, 0);
	PQclear(r);
	if (n > 0 && toggl_metadata_request(db, user_id) != 0)
		return -1;
	return n;
}
