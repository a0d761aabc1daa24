/* reconcile.c: the safety net under the webhooks, and the only source when there is none. Pulls GET
 * /me/time_entries?since=<last pull - overlap>, which includes deleted entries, and merges it with the
 * receiver's rules: a missed update or a missed delete is repaired. Scheduled per connected user by cron
 * (setting toggl.reconcile_cron, default twice a day) and runnable on demand. One run normally costs one
 * request of the user-scoped budget (30/hour), so the schedule is refused if it fires more often than every
 * LIMIT_TOGGL_RECONCILE_MIN_GAP_S. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "toggl/toggl.h"
#include "util/log.h"
#include "util/tbtime.h"
#include "worker/worker.h"

#define TOGGL_EPOCH_S   1136073600     /* 2006-01-01 */
#define CHECK_SPAN_S    (8 * 86400)    /* a cron is checked over a week and a day */

/* The smallest start (unix s) among entries, or INT64_MAX. */
static int64_t
min_start(json_t *entries)
{
	json_t *item, *v;
	int64_t best = INT64_MAX, ms;
	size_t i;

	json_array_foreach(entries, i, item) {
		v = json_object_get(item, "start");
		if (json_is_string(v) && tb_parse_rfc3339(json_string_value(v), &ms) == 0 && ms / 1000 < best)
			best = ms / 1000;
	}
	return best;
}

enum toggl_rc
toggl_reconcile(struct toggl_sync *s, struct toggl_import_stats *st)
{
	char uid[DB_I64_LEN], now_s[DB_I64_LEN];
	struct api_toggl_entries_query q;
	json_t *page = NULL;
	int64_t now, last = 0, end, next;
	enum toggl_rc rc;
	PGresult *r;

	memset(st, 0, sizeof(*st));
	st->method = "since";
	if ((rc = toggl_sync_require(s)) != TOGGL_OK)
		return rc;
	db_i64s(s->user_id, uid);
	if ((r = DB_EXEC(s->db, STMT_TOGGL_ACCOUNT_GET, uid)) == NULL) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		return TOGGL_RETRY;
	}
	if (PQntuples(r) == 1 && !db_isnull(r, 0, 11))
		last = db_i64(r, 0, 11);
	PQclear(r);
	/* Our clock before the first request: whatever changes after it is in this pull or the next. */
	now = tb_now_ms() / 1000;
	memset(&q, 0, sizeof(q));
	q.since = last > 0 ? last - LIMIT_TOGGL_RECONCILE_OVERLAP_S : now - LIMIT_TOGGL_FIRST_PULL_S;
	st->lo = q.since;
	st->hi = now;
	if (api_toggl_time_entries(&s->api, &q, &page) != API_TOGGL_OK) {
		rc = toggl_sync_fail(s, "reading changed time entries");
		goto out;
	}
	for (end = INT64_MAX;;) {
		if ((rc = toggl_entries_merge(s, page, 0, st)) != TOGGL_OK)
			goto out;
		st->windows++;
		if (json_array_size(page) < LIMIT_TOGGL_ENTRIES_CAP)
			break;
		/* A full answer (newest start first): read the older starts of the same changes next. The second
		 * of the oldest start is read again; the merge makes that harmless. */
		next = min_start(page) + 1;
		if (next >= end || next <= TOGGL_EPOCH_S) {
			snprintf(s->err, sizeof(s->err), "more than %d changed entries start within one second: cannot "
			    "page through them", LIMIT_TOGGL_ENTRIES_CAP);
			rc = TOGGL_FATAL;
			goto out;
		}
		end = next;
		st->splits++;
		json_decref(page);
		page = NULL;
		q.start = TOGGL_EPOCH_S;
		q.end = end;
		if (api_toggl_time_entries(&s->api, &q, &page) != API_TOGGL_OK) {
			rc = toggl_sync_fail(s, "reading changed time entries");
			goto out;
		}
	}
	if (DB_RUN(s->db, STMT_TOGGL_ACCOUNT_SET_PULL, uid, db_i64s(now, now_s)) != 0) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		rc = TOGGL_RETRY;
		goto out;
	}
	/* Entries changed since the last pull, by this pull or by webhooks, that name a project, client or tag
	 * we do not know: one batched refresh. */
	if (toggl_metadata_check(s->db, s->user_id, st->lo) < 0)
		log_warn(s->ctx, "toggl: checking for unknown projects and tags: %s", s->db->err);
	st->requests = s->api.requests;
	st->quota_waits = s->api.waits;
	st->waited_s = s->api.waited_s;
	st->pos = now;
	log_info(s->ctx, "toggl: reconciled user %" PRId64 ": %ld changed entries read, %ld inserted, %ld updated, "
	    "%ld deleted, %ld unchanged", s->user_id, st->fetched, st->inserted, st->updated, st->deleted,
	    st->unchanged);
	rc = TOGGL_OK;
out:
	json_decref(page);
	return rc;
}

int
toggl_reconcile_enqueue(struct db *db, int64_t user_id)
{
	char key[64];

	snprintf(key, sizeof(key), "toggl.reconcile:%" PRId64, user_id);
	return db_job_enqueue(db, "toggl.reconcile", "{}", user_id, key, 0) < 0 ? -1 : 0;
}

int
toggl_reconcile_cron_check(const char *cron, char *err, size_t errsz)
{
	struct cron c;
	/* A fixed Monday, so the answer does not depend on today's date. */
	int64_t base = 1704067200, prev, t;

	if (cron == NULL || cron_parse(cron, &c, err, errsz) != 0)
		return -1;
	if ((prev = cron_next(&c, base - 1)) < 0) {
		snprintf(err, errsz, "\"%s\" never fires", cron);
		return -1;
	}
	while (prev < base + CHECK_SPAN_S) {
		if ((t = cron_next(&c, prev)) < 0)
			break;
		if (t - prev < LIMIT_TOGGL_RECONCILE_MIN_GAP_S) {
			snprintf(err, errsz, "\"%s\" fires %" PRId64 " minutes apart; reconciliation spends the 30-an-hour "
			    "Toggl quota of the user, so at most every %d minutes", cron, (t - prev) / 60,
			    LIMIT_TOGGL_RECONCILE_MIN_GAP_S / 60);
			return -1;
		}
		prev = t;
	}
	return 0;
}

/* The cron of the setting when it is acceptable, else the default. */
static void
cron_setting(struct db *db, char *out, size_t n)
{
	char err[256];
	PGresult *r = DB_EXEC(db, STMT_SETTING_GET, TOGGL_RECONCILE_CRON_SETTING);

	snprintf(out, n, "%s", TOGGL_RECONCILE_CRON_DEFAULT);
	if (r == NULL)
		return;
	if (PQntuples(r) == 1 && db_str(r, 0, 0) != NULL) {
		if (toggl_reconcile_cron_check(db_str(r, 0, 0), err, sizeof(err)) == 0)
			snprintf(out, n, "%s", db_str(r, 0, 0));
		else
			log_warn("toggl", "setting %s ignored: %s", TOGGL_RECONCILE_CRON_SETTING, err);
	}
	PQclear(r);
}

int
toggl_reconcile_schedule(struct db *db, int64_t user_id, char *err, size_t errsz)
{
	char name[64], cron[128];

	cron_setting(db, cron, sizeof(cron));
	snprintf(name, sizeof(name), "toggl.reconcile:%" PRId64, user_id);
	return worker_schedule_put(db, name, "toggl.reconcile", "{}", user_id, cron, err, errsz);
}

int
toggl_reconcile_schedule_all(struct db *db, char *err, size_t errsz)
{
	PGresult *r = DB_EXEC0(db, STMT_TOGGL_ACCOUNT_LIST);
	int n = 0;

	if (r == NULL) {
		snprintf(err, errsz, "database: %s", db->err);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if (toggl_reconcile_schedule(db, db_i64(r, i, 0), err, errsz) != 0) {
			PQclear(r);
			return -1;
		}
		n++;
	}
	PQclear(r);
	return n;
}
