/* fuzz_toggl_response.c: libFuzzer target for everything that reads a Toggl API answer (the webhook
 * receiver's own fuzzer covers webhook bodies): the error sentence of a failed call, the quota and paging
 * headers, and the conversion of /me/time_entries and Reports v3 rows into records of the bulk merge.
 * None may crash, leak or read out of bounds, and every record made must have the members the merge
 * statement needs.
 *
 * Input: "<header line>\n<body>". The header line is "<remaining> <resets_in> <next_row>" (any bytes); the
 * body is the answer as Toggl would send it. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/toggl.h"
#include "toggl/toggl.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_record(json_t *rec)
{
	static const char *const need[] = { "id", "toggl_user_id", "workspace_id", "start", "at", "duration", "tag_ids" };

	if (rec == NULL)
		return;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (json_object_get(rec, need[i]) == NULL)
			abort();
	/* A running entry never has a stop. */
	if (json_integer_value(json_object_get(rec, "duration")) < 0 && !json_is_null(json_object_get(rec, "stop")))
		abort();
	json_decref(rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[LIMIT_TOGGL_ERROR_TEXT * 4 + 8], err[256], *s, *nl, *body, *a, *b, *c;
	json_t *j, *item, *tes, *te, *e;
	json_error_t jerr;
	long rem, resets;
	size_t i, k, blen;

	if (size > 256 * 1024)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	nl = memchr(s, '\n', size);
	body = nl ? nl + 1 : s;
	blen = size - (size_t)(body - s);
	if (nl != NULL) {
		*nl = '\0';
		a = s;
		b = strchr(a, ' ');
		if (b != NULL)
			*b++ = '\0';
		c = b ? strchr(b, ' ') : NULL;
		if (c != NULL)
			*c++ = '\0';
		if (api_toggl_quota_parse(a, b, &rem, &resets) == 0 && resets < 0)
			abort();
		if (api_toggl_next_row(c) < 0)
			abort();
	}

	api_toggl_error_text(body, blen, text, sizeof(text));
	if (strlen(text) > LIMIT_TOGGL_ERROR_TEXT * 4)
		abort();
	api_toggl_error_text(body, blen, text, 16);
	if (strlen(text) >= 16)
		abort();

	j = json_loadb(body, blen, JSON_DECODE_ANY, &jerr);
	if (json_is_object(j))
		check_record(toggl_entry_record(j, 1, err, sizeof(err)));
	json_array_foreach(j, i, item) {
		/* As a /me/time_entries element... */
		check_record(toggl_entry_record(item, (json_int_t)i, err, sizeof(err)));
		/* ... and as a Reports v3 row. */
		tes = json_object_get(item, "time_entries");
		json_array_foreach(tes, k, te) {
			if ((e = toggl_report_row_entry(item, te, 7)) == NULL)
				continue;
			check_record(toggl_entry_record(e, 0, err, sizeof(err)));
			json_decref(e);
		}
	}
	json_decref(j);
	free(s);
	return 0;
}
