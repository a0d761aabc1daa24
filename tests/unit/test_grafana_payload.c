/* test_grafana_payload.c: the tolerant parsers of src/grafana/ (payload.c, filters.c): every shape a
 * dashboard variable can take, legacy fields, and errors that name the field and the value. */
#include "config.h"

#include <string.h>

#include "check.h"
#include "grafana/grafana.h"
#include "util/buf.h"

static struct arena A = ARENA_INIT;

/* Parse JSON text as a /query body. Returns the parser's result; q and e are filled. */
static int
query(const char *text, int admin, struct grafana_query *q, struct grafana_err *e)
{
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	if (j == NULL) {
		fprintf(stderr, "bad test JSON: %s\n", text);
		return -2;
	}
	memset(e, 0, sizeof(*e));
	rc = grafana_parse_query(&A, j, 1, admin, q, e);
	json_decref(j);
	return rc;
}

static int
strv(const char *text, int split, struct grafana_strv *out, struct grafana_err *e)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	int rc = grafana_json_strv(&A, j, split, "payload.projects", out, e);

	json_decref(j);
	return rc;
}

static const char *
joined(const struct grafana_strv *v)
{
	static char buf[256];

	buf[0] = '\0';
	for (size_t i = 0; i < v->n; i++) {
		strncat(buf, i ? "|" : "", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, v->v[i], sizeof(buf) - strlen(buf) - 1);
	}
	return buf;
}

#define RANGE "\"range\": {\"from\": \"2024-01-01T00:00:00.000Z\", \"to\": \"2024-01-08T00:00:00.000Z\"}"

int
main(void)
{
	struct grafana_query q;
	struct grafana_strv v;
	struct grafana_err e;
	const char *sql;
	int oom;

	/* Every shape of a multi-value: */
	CHECK_INT(strv("\"101\"", 1, &v, &e), 0);
	CHECK_STR(joined(&v), "101");
	CHECK_INT(strv("\"101,102, 103\"", 1, &v, &e), 0);
	CHECK_STR(joined(&v), "101|102|103");
	CHECK_INT(strv("\"{101,102}\"", 1, &v, &e), 0);
	CHECK_STR(joined(&v), "101|102");
	CHECK_INT(strv("[\"Acme, Inc.\", 7, true, null]", 1, &v, &e), 0);
	CHECK_STR(joined(&v), "Acme, Inc.|7|true");
	CHECK_INT(strv("42", 1, &v, &e), 0);
	CHECK_STR(joined(&v), "42");
	CHECK_INT(strv("4.0", 1, &v, &e), 0);
	CHECK_STR(joined(&v), "4");
	CHECK_INT(strv("false", 1, &v, &e), 0);
	CHECK_STR(joined(&v), "false");
	CHECK_INT(strv("null", 1, &v, &e), 0);
	CHECK_INT(v.n, 0);
	CHECK_INT(strv("\"\"", 1, &v, &e), 0);
	CHECK_INT(v.n, 0);
	CHECK_INT(strv("\" , ,\"", 1, &v, &e), 0);
	CHECK_INT(v.n, 0);
	/* "All" in its custom spellings means no restriction at all. */
	CHECK_INT(strv("\"$__all\"", 1, &v, &e), 0);
	CHECK_INT(v.n, 0);
	CHECK_INT(strv("[\"101\", \"*\"]", 1, &v, &e), 0);
	CHECK_INT(v.n, 0);
	/* Not split when the field is one value (a time zone with a comma would be wrong anyway). */
	CHECK_INT(strv("\"a,b\"", 0, &v, &e), 0);
	CHECK_STR(joined(&v), "a,b");
	/* Refused, naming the field: objects, a variable Grafana did not replace. */
	CHECK_INT(strv("{\"a\": 1}", 1, &v, &e), -1);
	CHECK_INT(e.status, 400);
	CHECK(strstr(e.msg, "payload.projects") != NULL);
	CHECK_INT(strv("\"$project\"", 1, &v, &e), -1);
	CHECK(strstr(e.msg, "\"$project\"") != NULL);
	CHECK_INT(strv("[[1]]", 1, &v, &e), -1);
	CHECK(strstr(e.msg, "payload.projects[0]") != NULL);

	/* A simPod request with builder-mode strings and arrays. */
	CHECK_INT(query("{" RANGE ", \"intervalMs\": 600000, \"maxDataPoints\": \"500\", \"timezone\": \"browser\", "
	    "\"targets\": [{\"refId\": \"A\", \"target\": \"hours\", \"payload\": {\"group_by\": \"Project\", "
	    "\"projects\": [\"101\", \"102\"], \"billable\": \"true\", \"bucket\": \"1d\", \"tz\": \"Europe/Prague\"}}]}",
	    0, &q, &e), 0);
	CHECK_INT(q.has_range, 1);
	CHECK_INT(q.from_ms, 1704067200000LL);
	CHECK_INT(q.interval_ms, 600000);
	CHECK_INT(q.max_points, 500);
	CHECK_STR(q.timezone, "browser");
	CHECK_INT(q.ntargets, 1);
	CHECK_INT(q.targets[0].metric, GRAFANA_M_HOURS);
	CHECK_INT(q.targets[0].group, GRAFANA_G_PROJECT);
	CHECK_INT(q.targets[0].unit, GRAFANA_U_DAY);
	CHECK_STR(q.targets[0].tz, "Europe/Prague");
	CHECK_INT(q.targets[0].filters.n, 2);
	sql = grafana_filters_sql(&A, &q.adhoc, &q.targets[0].filters, GRAFANA_K__MAX, &oom);
	CHECK_STR(sql, "[{\"k\":\"billable\",\"op\":\"=\",\"v\":[\"true\"]},{\"k\":\"project#ref\",\"op\":\"=|\","
	    "\"v\":[\"101\",\"102\"]}]");

	/* Legacy SimpleJSON: `data` for payload, `type` for the shape, `adhocFilters`, hidden and empty targets
	 * dropped, payload given as JSON text. */
	CHECK_INT(query("{" RANGE ", \"adhocFilters\": [{\"key\": \"tag\", \"operator\": \"=\", \"value\": \"dev\"}], "
	    "\"targets\": [{\"target\": \"hours\", \"type\": \"timeserie\", \"data\": {\"group_by\": \"tags\"}}, "
	    "{\"target\": \"hours\", \"hide\": true}, {\"target\": \"\"}, "
	    "{\"target\": \"entries_table\", \"type\": \"table\", \"payload\": \"{\\\"limit\\\": \\\"20\\\"}\"}]}",
	    0, &q, &e), 0);
	CHECK_INT(q.ntargets, 2);
	CHECK_INT(q.targets[0].format, GRAFANA_F_SERIES);
	CHECK_INT(q.targets[0].group, GRAFANA_G_TAG);
	CHECK_INT(q.targets[1].format, GRAFANA_F_TABLE);
	CHECK_INT(q.targets[1].limit, 20);
	CHECK_INT(q.adhoc.n, 1);
	sql = grafana_filters_sql(&A, &q.adhoc, NULL, GRAFANA_K__MAX, &oom);
	CHECK_STR(sql, "[{\"k\":\"tag\",\"op\":\"=\",\"v\":[\"dev\"]}]");
	/* The filters on the key being listed are left out of /tag-values. */
	CHECK(grafana_filters_sql(&A, &q.adhoc, NULL, GRAFANA_K_TAG, &oom) == NULL);
	CHECK_INT(oom, 0);

	/* Every operator; billable values normalised; regular expressions taken as written. */
	CHECK_INT(query("{" RANGE ", \"filters\": [{\"key\": \"project\", \"operator\": \"!=\", \"value\": \"A\"}, "
	    "{\"key\": \"client\", \"operator\": \"=~\", \"value\": \".*\"}, {\"key\": \"workspace\", \"operator\": \"!~\", "
	    "\"value\": \"^x\"}, {\"key\": \"tag\", \"operator\": \"=|\", \"value\": \"a\", \"values\": [\"a\", \"b\"]}, "
	    "{\"key\": \"description\", \"operator\": \"!=|\", \"values\": [\"c\"]}, {\"key\": \"billable\", \"operator\": "
	    "\"=\", \"value\": \"yes\"}], \"targets\": []}", 0, &q, &e), 0);
	CHECK_INT(q.adhoc.n, 6);
	sql = grafana_filters_sql(&A, &q.adhoc, NULL, GRAFANA_K__MAX, &oom);
	CHECK_STR(sql, "[{\"k\":\"project\",\"op\":\"!=\",\"v\":[\"A\"]},{\"k\":\"client\",\"op\":\"=~\",\"v\":[\".*\"]},"
	    "{\"k\":\"workspace\",\"op\":\"!~\",\"v\":[\"^x\"]},{\"k\":\"tag\",\"op\":\"=|\",\"v\":[\"a\",\"b\"]},"
	    "{\"k\":\"description\",\"op\":\"!=|\",\"v\":[\"c\"]},{\"k\":\"billable\",\"op\":\"=\",\"v\":[\"true\"]}]");

	/* Errors name the field and the bad value. */
	CHECK_INT(query("{" RANGE ", \"targets\": [{\"target\": \"hours\", \"payload\": {\"bucket\": \"fortnight\"}}]}",
	    0, &q, &e), -1);
	CHECK(strstr(e.msg, "targets[0].payload.bucket") && strstr(e.msg, "\"fortnight\""));
	CHECK_INT(query("{" RANGE ", \"targets\": [{\"target\": \"hours\", \"payload\": {\"billable\": \"maybe\"}}]}",
	    0, &q, &e), -1);
	CHECK(strstr(e.msg, "targets[0].payload.billable") && strstr(e.msg, "\"maybe\""));
	CHECK_INT(query("{" RANGE ", \"targets\": [{\"target\": \"minutes\"}]}", 0, &q, &e), -1);
	CHECK(strstr(e.msg, "targets[0].target") && strstr(e.msg, "\"minutes\""));
	CHECK_INT(query("{" RANGE ", \"targets\": [{\"target\": \"hours\", \"payload\": {\"limit\": \"lots\"}}]}",
	    0, &q, &e), -1);
	CHECK(strstr(e.msg, "payload.limit") && strstr(e.msg, "lots"));
	CHECK_INT(query("{" RANGE ", \"targets\": [{\"target\": \"hours\", \"payload\": \"{not json\"}]}", 0, &q, &e), -1);
	CHECK(strstr(e.msg, "targets[0].payload") != NULL);
	CHECK_INT(query("{" RANGE ", \"filters\": [{\"key\": \"colour\", \"operator\": \"=\", \"value\": \"red\"}]}",
	    0, &q, &e), -1);
	CHECK(strstr(e.msg, "filters[0].key") && strstr(e.msg, "colour"));
	CHECK_INT(query("{" RANGE ", \"filters\": [{\"key\": \"project\", \"operator\": \"<\", \"value\": \"1\"}]}",
	    0, &q, &e), -1);
	CHECK(strstr(e.msg, "filters[0].operator") != NULL);
	CHECK_INT(query("{" RANGE ", \"filters\": [{\"key\": \"billable\", \"operator\": \"=\", \"value\": \"sometimes\"}]}",
	    0, &q, &e), -1);
	CHECK(strstr(e.msg, "sometimes") != NULL);
	/* The user key is for admins: 403 otherwise. */
	CHECK_INT(query("{" RANGE ", \"filters\": [{\"key\": \"user\", \"operator\": \"=\", \"value\": \"a@b\"}]}",
	    0, &q, &e), -1);
	CHECK_INT(e.status, 403);
	CHECK_INT(query("{" RANGE ", \"filters\": [{\"key\": \"user\", \"operator\": \"=\", \"value\": \"a@b\"}]}",
	    1, &q, &e), 0);
	/* Ranges: required for /query, in order, in a known format. */
	CHECK_INT(query("{\"targets\": []}", 0, &q, &e), -1);
	CHECK(strstr(e.msg, "range") != NULL);
	CHECK_INT(query("{\"range\": {\"from\": \"2024-01-08T00:00:00Z\", \"to\": \"2024-01-01T00:00:00Z\"}}", 0, &q, &e),
	    -1);
	CHECK_INT(query("{\"range\": {\"from\": \"last week\", \"to\": \"2024-01-01T00:00:00Z\"}}", 0, &q, &e), -1);
	CHECK(strstr(e.msg, "range.from") != NULL);
	CHECK_INT(query("{\"range\": {\"from\": 1704067200000, \"to\": \"1704672000000\"}, \"interval\": \"1h\"}", 0, &q, &e),
	    0);
	CHECK_INT(q.interval_ms, 3600000);

	arena_free(&A);
	return CHECK_DONE("test_grafana_payload");
}
