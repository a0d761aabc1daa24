/* cli_google.c: `timebridge google status EMAIL` (the connection, the calendar, the mirror and its jobs at a
 * glance) and `timebridge google sync EMAIL [--entry ID]` (queue a forced resync of one entry, or of the
 * whole backfill window). The work is done by the worker's google.* jobs. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "gcal/gcal.h"

static const char *
or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* Print rows of (a, b, count) as "a b: n, ..." lines; JSON arrays with --json. */
static json_t *
counts_json(PGresult *r, int two)
{
	json_t *a = json_array();

	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(a, two ? json_pack("{s:s, s:s, s:I}", "kind", db_str(r, i, 0), "state",
		    db_str(r, i, 1), "count", (json_int_t)db_i64(r, i, 2)) :
		    json_pack("{s:s, s:I}", "state", db_str(r, i, 0), "count", (json_int_t)db_i64(r, i, 1)));
	return a;
}

int
cli_google_status(struct cli *c)
{
	PGresult *acct = NULL, *mirror = NULL, *jobs = NULL;
	char uid[DB_I64_LEN];
	int rc = CLI_FAIL;
	int64_t id;

	if (c->argc != 1) {
		fprintf(stderr, "usage: timebridge google status EMAIL [--json]\n");
		return CLI_USAGE;
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if ((id = cli_user_id(c, c->argv[0])) < 0)
		return CLI_NOTFOUND;
	db_i64s(id, uid);
	if ((acct = DB_EXEC(&c->db, STMT_GOOGLE_ACCOUNT_GET, uid)) == NULL ||
	    (mirror = DB_EXEC(&c->db, STMT_GOOGLE_MIRROR_COUNTS, uid)) == NULL ||
	    (jobs = DB_EXEC(&c->db, STMT_GOOGLE_JOBS_BY_STATE, uid)) == NULL) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		goto out;
	}
	if (c->json) {
		json_t *o = json_object(), *v;
		json_error_t jerr;
		if (PQntuples(acct) == 1) {
			static const char *const cols[] = { "status", "status_detail", "scopes", "calendar_id",
			    "calendar_name", "calendar_time_zone", "backfill_days", "running_refresh_min", "backoff_until",
			    "backoff_level", "validated_at", "validation", "connected_at", "access_expires_at" };
			for (int k = 0; k < (int)(sizeof(cols) / sizeof(cols[0])); k++) {
				const char *s = db_str(acct, 0, k);
				if (s == NULL)
					v = json_null();
				else if (strcmp(cols[k], "validation") == 0)
					v = json_loads(s, 0, &jerr);
				else if (strcmp(cols[k], "backfill_days") == 0 || strcmp(cols[k], "running_refresh_min") == 0 ||
				    strcmp(cols[k], "backoff_level") == 0)
					v = json_integer(db_i64(acct, 0, k));
				else
					v = json_string(s);
				json_object_set_new(o, cols[k], v ? v : json_null());
			}
		} else
			json_object_set_new(o, "status", json_string("not connected"));
		json_object_set_new(o, "mirror", counts_json(mirror, 0));
		json_object_set_new(o, "jobs", counts_json(jobs, 1));
		json_dumpf(o, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(o);
		rc = CLI_OK;
		goto out;
	}
	if (PQntuples(acct) != 1) {
		printf("google:      not connected\n");
	} else {
		printf("google:      %s%s%s\n", db_str(acct, 0, 0), db_str(acct, 0, 1) ? ": " : "",
		    db_str(acct, 0, 1) ? db_str(acct, 0, 1) : "");
		printf("scopes:      %s\n", or_dash(db_str(acct, 0, 2)));
		printf("calendar:    \"%s\" %s (%s)\n", db_str(acct, 0, 4), or_dash(db_str(acct, 0, 3)),
		    or_dash(db_str(acct, 0, 5)));
		printf("settings:    backfill %s days, running entries refreshed every %s min\n", db_str(acct, 0, 6),
		    db_str(acct, 0, 7));
		if (db_str(acct, 0, 8))
			printf("backoff:     until %s (level %s)\n", db_str(acct, 0, 8), db_str(acct, 0, 9));
		printf("validation:  %s %s\n", or_dash(db_str(acct, 0, 10)), or_dash(db_str(acct, 0, 11)));
		printf("connected:   %s\n", db_str(acct, 0, 12));
	}
	printf("mirror:     ");
	for (int i = 0; i < PQntuples(mirror); i++)
		printf("%s %s %s", i ? "," : "", db_str(mirror, i, 0), db_str(mirror, i, 1));
	printf("%s\n", PQntuples(mirror) ? "" : " -");
	printf("jobs:       ");
	for (int i = 0; i < PQntuples(jobs); i++)
		printf("%s %s %s %s", i ? "," : "", db_str(jobs, i, 0), db_str(jobs, i, 1), db_str(jobs, i, 2));
	printf("%s\n", PQntuples(jobs) ? "" : " -");
	rc = CLI_OK;
out:
	if (acct)
		PQclear(acct);
	if (mirror)
		PQclear(mirror);
	if (jobs)
		PQclear(jobs);
	return rc;
}

int
cli_google_sync(struct cli *c)
{
	const char *entry = cli_opt(c, "--entry");
	char uid[DB_I64_LEN], *end;
	PGresult *acct;
	int64_t id, job, eid = 0;
	int connected, n;

	if (c->argc != 1) {
		fprintf(stderr, "usage: timebridge google sync EMAIL [--entry ID]\n");
		return CLI_USAGE;
	}
	if (entry != NULL) {
		errno = 0;
		eid = strtoll(entry, &end, 10);
		if (errno || *end || eid <= 0) {
			fprintf(stderr, "timebridge: --entry: a time entry id (a positive number): \"%s\"\n", entry);
			return CLI_USAGE;
		}
	}
	if (cli_db(c) != 0)
		return CLI_FAIL;
	if ((id = cli_user_id(c, c->argv[0])) < 0)
		return CLI_NOTFOUND;
	if ((acct = DB_EXEC(&c->db, STMT_GOOGLE_ACCOUNT_GET, db_i64s(id, uid))) == NULL) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return CLI_FAIL;
	}
	connected = PQntuples(acct) == 1;
	PQclear(acct);
	if (!connected) {
		fprintf(stderr, "timebridge: %s has not connected Google\n", c->argv[0]);
		return CLI_NOTFOUND;
	}
	if (entry != NULL) {
		if ((n = gcal_resync(&c->db, id, eid, "resync requested from the command line")) < 0) {
			fprintf(stderr, "timebridge: %s\n", c->db.err);
			return CLI_FAIL;
		}
		if (n == 0) {
			fprintf(stderr, "timebridge: %s has no time entry %" PRId64 "\n", c->argv[0], eid);
			return CLI_NOTFOUND;
		}
		printf("queued a sync of entry %" PRId64 "\n", eid);
		return CLI_OK;
	}
	if ((job = db_job_enqueue(&c->db, "google.backfill", "{\"force\":true,\"reason\":\"cli\"}", id, uid, 0)) < 0) {
		fprintf(stderr, "timebridge: %s\n", c->db.err);
		return CLI_FAIL;
	}
	printf("queued a full resync of %s's backfill window (job %" PRId64 ")\n", c->argv[0], job);
	return CLI_OK;
}
