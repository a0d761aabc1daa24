/* validate.c: every SYNC_VALIDATE_INTERVAL minutes each user's calendar is compared with the entries changed
 * in the last SYNC_VALIDATE_DAYS days: existence, status, summary, start and end, colour. Events are read
 * with events.list (deleted ones included), a page of up to 2,500 per call, not one call per entry. Each
 * difference queues a forced sync of its entry; the counts are logged and kept for the admin pages. Each
 * validation queues the user's next one; an hourly schedule restarts a chain that broke. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcal/internal.h"
#include "util/log.h"
#include "util/tbtime.h"

int
gcal_validate_fanout(struct db *db)
{
	char mins[16];
	PGresult *r;
	int n;

	snprintf(mins, sizeof(mins), "%ld", gcal_setting(db, GCAL_SETTING_VALIDATE_INTERVAL,
	    GCAL_DEFAULT_VALIDATE_MIN, 1, LIMIT_GOOGLE_VALIDATE_MIN_MAX));
	if ((r = DB_EXEC(db, STMT_GOOGLE_VALIDATE_FANOUT, mins)) == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	return n;
}

/* Every event of cal between the bounds, keyed by id, into map. API result. */
static enum api_google_res
list_events(struct gcal *g, const char *cal, const char *tmin, const char *tmax, json_t *map, long *pages)
{
	struct api_google_list_query q = { tmin, tmax, NULL, 1, LIMIT_GOOGLE_LIST_PAGE };
	struct gcal_call c = { GCAL_OP_EVENT_LIST, cal, NULL, NULL, &q, NULL };
	enum api_google_res ar = API_GOOGLE_OK;
	json_t *page = NULL, *items, *ev;
	char *token = NULL;
	size_t i;

	for (*pages = 0; *pages < LIMIT_GOOGLE_LIST_PAGES_MAX; (*pages)++) {
		c.out = &page;
		if ((ar = gcal_api(g, &c)) != API_GOOGLE_OK)
			break;
		items = json_object_get(page, "items");
		json_array_foreach(items, i, ev) {
			const char *id = json_string_value(json_object_get(ev, "id"));
			if (id != NULL)
				json_object_set(map, id, ev);
		}
		free(token);
		token = NULL;
		if (json_is_string(json_object_get(page, "nextPageToken")))
			token = strdup(json_string_value(json_object_get(page, "nextPageToken")));
		json_decref(page);
		page = NULL;
		if (token == NULL)
			break;
		q.page_token = token;
	}
	if (ar == API_GOOGLE_OK && token != NULL) {
		g->api.err.res = ar = API_GOOGLE_BAD_ANSWER;
		snprintf(g->api.err.message, sizeof(g->api.err.message), "more than %d pages of events",
		    LIMIT_GOOGLE_LIST_PAGES_MAX);
	}
	free(token);
	json_decref(page);
	return ar;
}

int
gcal_validate_queue(struct db *db, int64_t user_id, long minutes)
{
	char key[DB_I64_LEN];

	return db_job_enqueue(db, "google.validate", "{}", user_id, db_i64s(user_id, key), minutes * 60.0) > 0 ? 0 : -1;
}

/* The next validation of this user, an interval from now (it reschedules itself; the hourly schedule only
 * catches a broken chain). */
static int
queue_next(struct gcal *g, long minutes)
{
	return gcal_validate_queue(g->db, g->user_id, minutes);
}

enum gcal_result
gcal_validate_user(struct gcal *g)
{
	long checked = 0, ok = 0, missing = 0, differ = 0, present = 0, queued = 0, pages = 0, failed = 0;
	char uid[DB_I64_LEN], days_s[16], lim[16], tmin[TB_RFC3339_SIZE], tmax[TB_RFC3339_SIZE], why[160];
	enum gcal_result res = GCAL_RETRY;
	enum api_google_res ar;
	PGresult *acct = NULL, *rows = NULL;
	json_t *map = NULL, *stats = NULL;
	struct gcal_entry e;
	const char *cal;
	int64_t t0 = tb_mono_ms(), now, lo = INT64_MAX, hi = INT64_MIN;
	char *text = NULL;
	long days, interval;
	int found, n, diff;

	if ((found = gcal_account_load(g, &acct)) <= 0)
		return found == 0 ? GCAL_OK : GCAL_RETRY;
	if (strcmp(db_str(acct, 0, GA_STATUS), "ok") != 0 || (cal = db_str(acct, 0, GA_CALENDAR)) == NULL) {
		res = GCAL_OK;   /* nothing to compare with until it is connected and has a calendar */
		goto out;
	}
	interval = gcal_setting(g->db, GCAL_SETTING_VALIDATE_INTERVAL, GCAL_DEFAULT_VALIDATE_MIN, 1,
	    LIMIT_GOOGLE_VALIDATE_MIN_MAX);
	days = gcal_setting(g->db, GCAL_SETTING_VALIDATE_DAYS, GCAL_DEFAULT_VALIDATE_DAYS, 1, LIMIT_GOOGLE_DAYS_MAX);
	snprintf(days_s, sizeof(days_s), "%ld", days);
	snprintf(lim, sizeof(lim), "%d", LIMIT_GOOGLE_VALIDATE_ROWS);
	if ((rows = DB_EXEC(g->db, STMT_GOOGLE_VALIDATE_ROWS, db_i64s(g->user_id, uid), days_s, lim)) == NULL) {
		gcal_error(g, "reading entries: %s", g->db->err);
		goto out;
	}
	n = PQntuples(rows);
	if ((map = json_object()) == NULL) {
		gcal_error(g, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int64_t s = db_i64(rows, i, GC_START_MS);
		if (s < lo)
			lo = s;
		if (s > hi)
			hi = s;
	}
	if (n > 0) {
		/* Events end after their start and start before the last start: a minute of slack each side. */
		if (tb_format_rfc3339(lo / 1000 - 60, tmin) != 0 || tb_format_rfc3339(hi / 1000 + 60, tmax) != 0) {
			gcal_error(g, "entry times out of range");
			res = GCAL_FATAL;
			goto out;
		}
		if ((ar = list_events(g, cal, tmin, tmax, map, &pages)) != API_GOOGLE_OK) {
			if (ar == API_GOOGLE_NOT_FOUND || ar == API_GOOGLE_GONE) {
				/* The calendar is gone: that is the calendar job's business, and everything is then
				 * mirrored again anyway. */
				if (gcal_calendar_queue(g->db, g->user_id, cal) != 0) {
					gcal_error(g, "queueing a new calendar: %s", g->db->err);
					goto out;
				}
				log_warn(g->ctx, "validation: the calendar of user %s is gone; a new one is queued", uid);
				res = GCAL_OK;
				goto out;
			}
			res = gcal_api_failure(g, "events.list", (int)db_i64(acct, 0, GA_BACKOFF_LEVEL));
			goto out;
		}
	}
	now = tb_now_ms();
	for (int i = 0; i < n; i++) {
		char eid[GCAL_EVENT_ID_MAX];
		gcal_entry_from_row(rows, i, &e);
		(void)gcal_event_id(e.id, eid);
		checked++;
		diff = gcal_event_compare(&e, json_object_get(map, eid), now, why, sizeof(why));
		if (diff == 0) {
			ok++;
			continue;
		}
		if (diff & GCAL_DIFF_MISSING)
			missing++;
		else if (diff & GCAL_DIFF_PRESENT)
			present++;
		else
			differ++;
		log_info(g->ctx, "validation: entry %" PRId64 " (event %s): %s; resyncing", e.id, eid, why);
		switch (gcal_resync(g->db, g->user_id, e.id, why)) {
		case 1:
			queued++;
			break;
		case 0:
			break;
		default:
			failed++;
			log_error(g->ctx, "validation: queueing a sync of entry %" PRId64 ": %s", e.id, g->db->err);
			break;
		}
	}
	stats = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I}", "calendar_id", cal,
	    "days", (int)days, "checked", (int)checked, "ok", (int)ok, "missing", (int)missing, "changed", (int)differ,
	    "deleted_but_present", (int)present, "queued", (int)queued, "events_listed", (int)json_object_size(map),
	    "pages", (int)pages, "ms", (json_int_t)(tb_mono_ms() - t0));
	if (stats != NULL) {
		char at[TB_RFC3339_SIZE];
		(void)tb_format_rfc3339(now / 1000, at);
		json_object_set_new(stats, "finished_at", json_string(at));
		text = json_dumps(stats, JSON_COMPACT);
	}
	if (text == NULL || DB_RUN(g->db, STMT_GOOGLE_VALIDATE_STORE, uid, text) != 0)
		log_error(g->ctx, "validation: storing the counts: %s", text ? g->db->err : "out of memory");
	log_info(g->ctx, "validation of user %s: %ld checked, %ld ok, %ld missing, %ld changed, %ld deleted but "
	    "present, %ld syncs queued (%ld events in %ld pages, %" PRId64 " ms)", uid, checked, ok, missing, differ,
	    present, queued, (long)json_object_size(map), pages, tb_mono_ms() - t0);
	(void)gcal_token_persist(g);
	if (queue_next(g, interval) != 0)
		log_error(g->ctx, "validation: queueing the next one: %s", g->db->err);
	if (failed > 0) {
		gcal_error(g, "validation: %ld syncs could not be queued: %s", failed, g->db->err);
		res = GCAL_RETRY;
	} else
		res = GCAL_OK;
out:
	free(text);
	json_decref(stats);
	json_decref(map);
	if (rows != NULL)
		PQclear(rows);
	g->access_sealed = NULL;
	PQclear(acct);
	return res;
}
