/* fuzz_grafana_payload.c: libFuzzer target for the Grafana API's parsers of untrusted request bodies
 * (src/grafana/payload.c, filters.c): a /query body through the router's own JSON gate, then
 * grafana_parse_query (with and without the admin key "user"), the filter JSON the statements take, a
 * payload alone, the tolerant value reader, and bucket planning for whatever range came out. None may
 * crash, leak or read out of bounds; whatever they accept must plan or be refused cleanly. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "grafana/grafana.h"
#include "http/parse.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a = ARENA_INIT;
	struct grafana_query q;
	struct grafana_target t;
	struct grafana_strv sv;
	struct grafana_err e;
	struct grafana_plan plan;
	char jerr[256];
	json_t *body = NULL;
	int oom;

	if (http_parse_json_body((const char *)data, size, &body, jerr, sizeof(jerr)) != HTTP_POK)
		return 0;
	if (json_is_object(body)) {
		for (int admin = 0; admin < 2; admin++) {
			memset(&e, 0, sizeof(e));
			if (grafana_parse_query(&a, body, admin, admin, &q, &e) != 0)
				continue;
			(void)grafana_filters_sql(&a, &q.adhoc, NULL, GRAFANA_K_TAG, &oom);
			for (size_t i = 0; i < q.ntargets; i++) {
				(void)grafana_filters_sql(&a, &q.adhoc, &q.targets[i].filters, GRAFANA_K__MAX, &oom);
				if (q.has_range)
					(void)grafana_plan_buckets(q.from_ms, q.to_ms, q.targets[i].unit, q.interval_ms,
					    q.max_points, &plan);
			}
		}
		memset(&t, 0, sizeof(t));
		(void)grafana_parse_payload(&a, json_object_get(body, "payload"), "payload", &t, &e);
		(void)grafana_json_strv(&a, json_object_get(body, "values"), 1, "values", &sv, &e);
	} else
		(void)grafana_json_strv(&a, body, 1, "body", &sv, &e);
	json_decref(body);
	arena_free(&a);
	return 0;
}
