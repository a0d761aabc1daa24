/* backfill.c: connecting Google, or a new calendar, mirrors the entries of the last backfill_days days. The
 * syncs go on the queue spaced at GOOGLE_BACKFILL_RATE per second (Google allows about 10 calls per second
 * per user; live changes, queued for now, keep the rest), newest entries first, through the same
 * google.sync_entry path as live changes, so a backfill and a webhook never race. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gcal/internal.h"
#include "util/log.h"

enum gcal_result
gcal_backfill(struct gcal *g, int days, int force, long *queued)
{
	char uid[DB_I64_LEN], d[16], rate[16];
	enum gcal_result res = GCAL_RETRY;
	PGresult *acct = NULL, *r = NULL;
	const char *status;
	int found;

	*queued = 0;
	if ((found = gcal_account_load(g, &acct)) <= 0)
		return found == 0 ? GCAL_OK : GCAL_RETRY;
	status = db_str(acct, 0, GA_STATUS);
	if (strcmp(status, "ok") != 0) {
		gcal_error(g, "the Google connection is %s", status);
		res = strcmp(status, "needs_reconnect") == 0 ? GCAL_PAUSE : GCAL_OK;
		goto out;
	}
	if (db_isnull(acct, 0, GA_CALENDAR)) {
		/* The calendar job backfills once it has made the calendar. */
		if (gcal_calendar_queue(g->db, g->user_id, NULL) != 0) {
			gcal_error(g, "queueing the calendar: %s", g->db->err);
			goto out;
		}
		res = GCAL_OK;
		goto out;
	}
	if (days <= 0 || days > LIMIT_GOOGLE_DAYS_MAX)
		days = (int)db_i64(acct, 0, GA_BACKFILL_DAYS);
	snprintf(d, sizeof(d), "%d", days);
	snprintf(rate, sizeof(rate), "%ld", gcal_setting(g->db, GCAL_SETTING_BACKFILL_RATE, GCAL_DEFAULT_BACKFILL_RATE,
	    1, LIMIT_GOOGLE_BACKFILL_RATE_MAX));
	db_i64s(g->user_id, uid);
	if (db_begin(g->db) != 0 ||
	    DB_RUN(g->db, STMT_GOOGLE_BACKFILL_MIRROR, uid, d, force ? "true" : "false") != 0 ||
	    (r = DB_EXEC(g->db, STMT_GOOGLE_BACKFILL_ENQUEUE, uid, rate, force ? "true" : "false")) == NULL) {
		gcal_error(g, "backfill: %s", g->db->err);
		db_rollback(g->db);
		goto out;
	}
	*queued = PQntuples(r);
	log_info(g->ctx, "backfill of user %s: %ld syncs queued (last %d days%s, %s per second)", uid, *queued, days,
	    force ? ", forced" : "", rate);
	res = GCAL_OK;   /* the caller commits */
out:
	if (r != NULL)
		PQclear(r);
	g->access_sealed = NULL;
	PQclear(acct);
	return res;
}
