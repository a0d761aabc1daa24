/* stmt.h: the names of every SQL statement timebridge runs; their text is in stmt.c. Grouped by feature,
 * so each feature adds its own block. */
#ifndef TB_STMT_H
#define TB_STMT_H

enum stmt {
	/* core: health and schema */
	STMT_PING = 0,
	STMT_SCHEMA_VERSION,
	STMT_SET_STATEMENT_TIMEOUT,
	STMT_MIGRATE_LOCK,
	STMT_MIGRATE_UNLOCK,
	STMT_MIGRATE_INIT,
	STMT_MIGRATE_APPLIED,
	STMT_MIGRATE_RECORD,

	/* users */
	STMT_USER_INSERT,
	STMT_USER_BY_EMAIL,
	STMT_USER_BY_ID,
	STMT_USER_SET_PASSWORD,
	STMT_USER_LIST,
	STMT_USER_SET_ADMIN,
	STMT_USER_SET_DISABLED,
	STMT_USER_COUNT,

	/* sessions */
	STMT_SESSION_INSERT,
	STMT_SESSION_GET,
	STMT_SESSION_DELETE,
	STMT_SESSION_DELETE_USER,
	STMT_SESSION_PURGE,

	/* API tokens */
	STMT_TOKEN_INSERT,
	STMT_TOKEN_LOOKUP,
	STMT_TOKEN_TOUCH,
	STMT_TOKEN_LIST,
	STMT_TOKEN_REVOKE,

	/* sealed secrets */
	STMT_SECRET_PUT,
	STMT_SECRET_GET,
	STMT_SECRET_DELETE,

	/* jobs */
	STMT_JOB_INSERT,
	STMT_JOB_CLAIM,
	STMT_JOB_DONE,
	STMT_JOB_FAIL,
	STMT_JOB_DEAD,
	STMT_JOB_PAUSE,
	STMT_JOB_RESUME_USER,
	STMT_JOB_EXTEND_LEASE,
	STMT_JOB_PROGRESS,
	STMT_JOB_GET,
	STMT_JOB_LIST,
	STMT_JOB_COUNT_BY_STATE,
	STMT_JOB_RETRY,
	STMT_JOB_RETRY_DEAD,
	STMT_JOB_REAP,
	STMT_JOB_PURGE_DONE,
	STMT_JOB_NEXT_DUE,
	STMT_JOB_LISTEN,

	/* schedules */
	STMT_SCHEDULE_UPSERT,
	STMT_SCHEDULE_CLAIM_DUE,
	STMT_SCHEDULE_ADVANCE,
	STMT_SCHEDULE_LIST,
	STMT_SCHEDULE_DELETE,
	STMT_SCHEDULE_NEXT_DUE,

	/* settings and audit */
	STMT_SETTING_GET,
	STMT_SETTING_PUT,
	STMT_SETTING_LIST,
	STMT_AUDIT_INSERT,

	/* -- features add their blocks below this line, one block per feature -- */

	/* toggl (issue 3) */

	/* google (issue 4) */

	/* grafana (issue 5) */

	/* admin (issue 6) */

	STMT__MAX
};

/* Name (for PQprepare) and text of statement s. */
#define STMT_NAME_LEN 16
void        stmt_name(enum stmt s, char out[STMT_NAME_LEN]);
const char *stmt_sql(enum stmt s);
/* Number of $n parameters the statement takes (the highest $n in its text). */
int         stmt_nparams(enum stmt s);

#endif
