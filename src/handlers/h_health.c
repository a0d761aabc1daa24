/* h_health.c: liveness (/healthz), readiness (/readyz: database reachable, schema current) and
 * Prometheus metrics (/metrics). */
#include "config.h"

#include "db/db.h"
#include "handlers/handlers.h"
#include "http/http.h"
#include "http/metrics.h"

void
h_healthz(struct req *r)
{
	resp_text(r, 200, "ok\n");
}

void
h_readyz(struct req *r)
{
	int v;

	if (db_ensure(r->db) != 0) {
		resp_text(r, 503, "not ready: database unreachable\n");
		return;
	}
	if ((v = db_schema_version(r->db)) < 0) {
		resp_text(r, 503, "not ready: database error or no schema (run `timebridge migrate`)\n");
		return;
	}
	if (v != http_schema_expected) {
		buf_printf(&r->out, "not ready: schema version %d, this build needs %d (run `timebridge migrate`)\n",
		    v, http_schema_expected);
		r->status = 503;
		r->out_type = "text/plain; charset=utf-8";
		return;
	}
	resp_text(r, 200, "ready\n");
}

void
h_metrics(struct req *r)
{
	PGresult *res;

	r->out_type = "text/plain; version=0.0.4; charset=utf-8";
	metrics_render(&r->out);
	/* Jobs by state come from the database: they are shared by every process. */
	if (db_ensure(r->db) == 0 && (res = db_exec(r->db, STMT_JOB_COUNT_BY_STATE, DB_PARAMS(NULL), 1))) {
		buf_puts(&r->out, "# HELP timebridge_jobs Jobs in the queue, by state.\n# TYPE timebridge_jobs gauge\n");
		for (int i = 0; i < PQntuples(res); i++)
			buf_printf(&r->out, "timebridge_jobs{state=\"%s\"} %s\n", db_str(res, i, 0), db_str(res, i, 1));
		PQclear(res);
		buf_puts(&r->out, "timebridge_database_up 1\n");
	} else
		buf_puts(&r->out, "timebridge_database_up 0\n");
	r->status = 200;
}
