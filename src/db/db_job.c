/* db_job.c: putting work on the durable job queue. The worker (src/worker/) takes it off. */
#include "config.h"

#include <stdio.h>

#include "db/db.h"

int64_t
db_job_enqueue(struct db *db, const char *kind, const char *payload, int64_t user_id,
    const char *dedupe_key, double delay_s)
{
	char uid[DB_I64_LEN], delay[32];
	PGresult *r;
	int64_t id;

	snprintf(delay, sizeof(delay), "%.3f", delay_s);
	r = DB_EXEC(db, STMT_JOB_INSERT, kind, payload ? payload : "{}",
	    user_id > 0 ? db_i64s(user_id, uid) : NULL, dedupe_key, delay, NULL);
	if (r == NULL)
		return -1;
	id = PQntuples(r) == 1 ? db_i64(r, 0, 0) : -1;
	PQclear(r);
	return id;
}
