/* internal.h: what the files of src/gcal share and nothing outside the module sees. */
#ifndef TB_GCAL_INTERNAL_H
#define TB_GCAL_INTERNAL_H

#include "gcal/gcal.h"

/* Columns of GOOGLE_ENTRY_COLS (src/db/stmt.c), then those STMT_GOOGLE_SYNC_LOAD adds. */
enum gcal_col {
	GC_ID = 0, GC_VERSION, GC_DELETED, GC_WORKSPACE, GC_PROJECT, GC_CLIENT, GC_TOGGL_USER, GC_DESCRIPTION,
	GC_BILLABLE, GC_START_MS, GC_STOP_MS, GC_RUNNING, GC_TAGS, GC_PROJECT_NAME, GC_PROJECT_COLOR,
	GC_CLIENT_NAME, GC_RULE_TAG, GC_RULE_PROJECT, GC_RULE_CLIENT, GC_RULE_WORKSPACE,
	GC_M_EVENT_ID, GC_M_EVENT_STATE, GC_M_SYNCED_VERSION, GC_M_STATE, GC_M_CALENDAR,
	GC__ENTRY,
	GC_G_STATUS = GC__ENTRY, GC_G_CALENDAR, GC_G_ACCESS, GC_G_ACCESS_TTL, GC_G_BACKOFF_S, GC_G_BACKOFF_LEVEL,
	GC_LOCKED
};

/* Columns of STMT_GOOGLE_ACCOUNT_LOAD. */
enum gcal_acol {
	GA_STATUS = 0, GA_CALENDAR, GA_CALENDAR_NAME, GA_TIME_ZONE, GA_ACCESS, GA_ACCESS_TTL, GA_BACKOFF_S,
	GA_BACKOFF_LEVEL, GA_BACKFILL_DAYS, GA_REFRESH_MIN, GA_SCOPES
};

/* Fill e from row of r (GOOGLE_ENTRY_COLS); strings borrowed from r. */
void   gcal_entry_from_row(const PGresult *r, int row, struct gcal_entry *e);
/* Record a failure (or a wait) on the entry: state and message. Outside a transaction. */
void   gcal_mirror_fail(struct gcal *g, int64_t entry_id, const char *state, const char *msg);
/* The sealing AAD of a user's secret: "<prefix>:<user id>". */
void   gcal_aad(char *out, size_t outsz, const char *prefix, int64_t user_id);
/* Load STMT_GOOGLE_ACCOUNT_LOAD for g->user_id: 1 found (*out to PQclear), 0 none, -1 error (g->err). */
int    gcal_account_load(struct gcal *g, PGresult **out);

#endif
