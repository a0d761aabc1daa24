/* calendar.c: the app calendar. Created with calendars.insert (the scope calendar.app.created allows nothing
 * else) in the user's Toggl time zone, named by google_accounts.calendar_name ("Toggl" by default), its id
 * remembered. When the user deletes it, a new one is made and everything is mirrored into it again; one this
 * client made before for the same account (a reconnect after a disconnect) is adopted rather than doubled. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcal/internal.h"
#include "util/log.h"

#define CALENDAR_DESCRIPTION \
	"Time entries mirrored from Toggl Track by timebridge. Changes made here are overwritten."

int
gcal_calendar_queue(struct db *db, int64_t user_id, const char *gone_id)
{
	char key[DB_I64_LEN];
	json_t *payload = gone_id ? json_pack("{s:s}", "gone", gone_id) : json_object();
	char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	int64_t job;

	json_decref(payload);
	if (text == NULL) {
		snprintf(db->err, sizeof(db->err), "out of memory");
		return -1;
	}
	job = db_job_enqueue(db, "google.calendar", text, user_id, db_i64s(user_id, key), 0);
	free(text);
	return job > 0 ? 0 : -1;
}

/* calendars.insert; on success *id is the new calendar's id (owned by the returned object in *out). */
static enum api_google_res
create(struct gcal *g, const char *name, const char *tz, json_t **out, const char **id)
{
	struct gcal_call c = { GCAL_OP_CALENDAR_INSERT, NULL, NULL, NULL, NULL, out };
	enum api_google_res ar;

	*id = NULL;
	c.body = json_pack("{s:s, s:s, s:s}", "summary", name, "description", CALENDAR_DESCRIPTION, "timeZone", tz);
	ar = gcal_api(g, &c);
	json_decref(c.body);
	if (ar == API_GOOGLE_BAD_REQUEST && strstr(g->api.err.message, "ime zone") != NULL) {
		/* A zone Toggl knows and Google does not: the calendar's default (UTC) beats no calendar. */
		log_warn(g->ctx, "Google refused time zone \"%s\" (%s); creating the calendar without one", tz,
		    g->api.err.message);
		c.body = json_pack("{s:s, s:s}", "summary", name, "description", CALENDAR_DESCRIPTION);
		ar = gcal_api(g, &c);
		json_decref(c.body);
	}
	if (ar == API_GOOGLE_OK && (*id = json_string_value(json_object_get(*out, "id"))) == NULL) {
		json_decref(*out);
		*out = NULL;
		g->api.err.res = ar = API_GOOGLE_BAD_ANSWER;
		snprintf(g->api.err.message, sizeof(g->api.err.message), "calendars.insert answered without an id");
	}
	return ar;
}

/* A calendar this client made earlier for the same Google account (a reconnect after a disconnect, or a
 * crash between calendars.insert and recording its id): its events carry our deterministic ids, so
 * adopting it mirrors into it without duplicates instead of leaving a second "Toggl" calendar behind.
 * On API_GOOGLE_OK, *id is the adopted calendar's id (owned by *out) or NULL when there is none. */
static enum api_google_res
find_ours(struct gcal *g, const char *gone_id, json_t **out, const char **id)
{
	struct api_google_list_query q;
	struct gcal_call c = { GCAL_OP_CALENDAR_LIST, NULL, NULL, NULL, &q, out };
	enum api_google_res ar = API_GOOGLE_OK;
	char *token = NULL;
	json_t *item;
	size_t i;

	memset(&q, 0, sizeof(q));
	*id = NULL;
	for (int pages = 0; pages < LIMIT_GOOGLE_LIST_PAGES_MAX; pages++) {
		if ((ar = gcal_api(g, &c)) != API_GOOGLE_OK)
			break;
		json_array_foreach(json_object_get(*out, "items"), i, item) {
			const char *cid = json_string_value(json_object_get(item, "id"));
			const char *desc = json_string_value(json_object_get(item, "description"));
			if (cid && desc && strcmp(desc, CALENDAR_DESCRIPTION) == 0 &&
			    !json_is_true(json_object_get(item, "deleted")) && (gone_id == NULL || strcmp(cid, gone_id) != 0)) {
				*id = cid;
				goto out;
			}
		}
		free(token);
		token = json_is_string(json_object_get(*out, "nextPageToken")) ?
		    strdup(json_string_value(json_object_get(*out, "nextPageToken"))) : NULL;
		json_decref(*out);
		*out = NULL;
		if (token == NULL)
			break;
		q.page_token = token;
	}
out:
	free(token);
	return ar;
}

/* Give calendar id (as Google last described it in cal) the name the user chose, unless it has it. */
static enum api_google_res
rename_calendar(struct gcal *g, const char *id, json_t *cal, const char *name)
{
	const char *summary = json_string_value(json_object_get(cal, "summary"));
	struct gcal_call p = { GCAL_OP_CALENDAR_PATCH, id, NULL, NULL, NULL, NULL };
	enum api_google_res ar;

	if (summary != NULL && strcmp(summary, name) == 0)
		return API_GOOGLE_OK;
	p.body = json_pack("{s:s}", "summary", name);
	ar = gcal_api(g, &p);
	json_decref(p.body);
	if (ar == API_GOOGLE_OK)
		log_info(g->ctx, "renamed the Google calendar %s of user %" PRId64 " to \"%s\"", id, g->user_id, name);
	return ar;
}

enum gcal_result
gcal_calendar_ensure(struct gcal *g, const char *gone_id)
{
	enum gcal_result res = GCAL_RETRY;
	enum api_google_res ar;
	PGresult *acct = NULL;
	json_t *cal = NULL, *made = NULL;
	char uid[DB_I64_LEN];
	const char *status, *cur, *name, *tz, *new_id;
	int found, level, need_create;
	long validate_min;

	if ((found = gcal_account_load(g, &acct)) <= 0)
		return found == 0 ? GCAL_OK : GCAL_RETRY;
	status = db_str(acct, 0, GA_STATUS);
	if (strcmp(status, "ok") != 0) {
		gcal_error(g, "the Google connection is %s", status);
		res = strcmp(status, "needs_reconnect") == 0 ? GCAL_PAUSE : GCAL_OK;
		goto out;
	}
	cur = db_str(acct, 0, GA_CALENDAR);
	name = db_str(acct, 0, GA_CALENDAR_NAME);
	tz = db_str(acct, 0, GA_TIME_ZONE);
	level = (int)db_i64(acct, 0, GA_BACKOFF_LEVEL);
	/* Validations reschedule themselves; a (re)connection or a new calendar starts the chain. */
	validate_min = gcal_setting(g->db, GCAL_SETTING_VALIDATE_INTERVAL, GCAL_DEFAULT_VALIDATE_MIN, 1,
	    LIMIT_GOOGLE_VALIDATE_MIN_MAX);
	if (gone_id != NULL && cur != NULL && strcmp(cur, gone_id) != 0) {
		res = GCAL_OK;   /* replaced already, by an earlier run of this job */
		goto out;
	}
	need_create = cur == NULL;
	if (!need_create) {
		struct gcal_call c = { GCAL_OP_CALENDAR_GET, cur, NULL, NULL, NULL, &cal };
		ar = gcal_api(g, &c);
		if (ar == API_GOOGLE_NOT_FOUND || ar == API_GOOGLE_GONE) {
			log_warn(g->ctx, "the Google calendar of user %" PRId64 " was deleted (%ld); making a new one",
			    g->user_id, g->api.err.status);
			need_create = 1;
		} else if (ar != API_GOOGLE_OK) {
			res = gcal_api_failure(g, "calendars.get", level);
			goto out;
		} else if ((ar = rename_calendar(g, cur, cal, name)) != API_GOOGLE_OK) {
			res = gcal_api_failure(g, "calendars.patch", level);
			goto out;
		}
	}
	if (!need_create) {
		(void)gcal_token_persist(g);
		if (gcal_validate_queue(g->db, g->user_id, validate_min) != 0) {
			gcal_error(g, "queueing the validation: %s", g->db->err);
			goto out;
		}
		res = GCAL_OK;
		goto out;
	}
	if ((ar = find_ours(g, gone_id, &made, &new_id)) != API_GOOGLE_OK) {
		res = gcal_api_failure(g, "calendarList.list", level);
		goto out;
	}
	if (new_id != NULL) {
		log_info(g->ctx, "adopting the existing timebridge calendar %s of user %" PRId64, new_id, g->user_id);
		if ((ar = rename_calendar(g, new_id, made, name)) != API_GOOGLE_OK) {
			res = gcal_api_failure(g, "calendars.patch", level);
			goto out;
		}
	} else if ((ar = create(g, name, tz, &made, &new_id)) != API_GOOGLE_OK) {
		res = gcal_api_failure(g, "calendars.insert", level);
		goto out;
	} else
		log_info(g->ctx, "created Google calendar \"%s\" (%s, %s) for user %" PRId64, name, new_id, tz,
		    g->user_id);
	/* The new id, a mirror that knows the calendar is empty, and a backfill of everything: one commit. */
	db_i64s(g->user_id, uid);
	if (db_begin(g->db) != 0 ||
	    DB_RUN(g->db, STMT_GOOGLE_CALENDAR_SET, uid, new_id, tz) != 0 ||
	    DB_RUN(g->db, STMT_GOOGLE_MIRROR_RESET, uid) != 0 ||
	    db_job_enqueue(g->db, "google.backfill", "{\"reason\":\"new calendar\"}", g->user_id, uid, 0) < 0 ||
	    gcal_validate_queue(g->db, g->user_id, validate_min) != 0 || gcal_token_persist(g) != 0) {
		gcal_error(g, "recording the new calendar %s: %s", new_id, g->db->err);
		db_rollback(g->db);
		goto out;
	}
	res = GCAL_OK;   /* the caller commits */
out:
	json_decref(cal);
	json_decref(made);
	g->access_sealed = NULL;
	PQclear(acct);
	return res;
}
