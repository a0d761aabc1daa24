/* fuzz_json.c: libFuzzer target for http_parse_json_body() (jansson behind a depth pre-scan). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "http/parse.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nesting depth of a parsed value: 1 for an empty array or object. */
static size_t
depth(json_t *j)
{
	size_t d = 0, sub, i;
	const char *k;
	json_t *v;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if ((sub = depth(v)) > d)
				d = sub;
		}
		return d + 1;
	}
	if (json_is_object(j)) {
		json_object_foreach(j, k, v) {
			if ((sub = depth(v)) > d)
				d = sub;
		}
		return d + 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL;
	char err[256];
	char *dump;

	if (http_parse_json_body((const char *)data, size, &j, err, sizeof(err)) == HTTP_POK) {
		if (j == NULL || (!json_is_object(j) && !json_is_array(j)) || depth(j) > LIMIT_JSON_DEPTH_MAX)
			__builtin_trap();
		if ((dump = json_dumps(j, JSON_COMPACT)) != NULL)
			free(dump);
		json_decref(j);
	} else if (j != NULL || err[0] == '\0')
		__builtin_trap();
	return 0;
}
