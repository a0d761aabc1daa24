/* fuzz_fields.h: shared checks of the query/form/cookie fuzz targets: pair invariants, then validation. */
#ifndef TB_FUZZ_FIELDS_H
#define TB_FUZZ_FIELDS_H

#include <string.h>

#include "http/parse.h"
#include "util/limits.h"

static const char *const fuzz_choices[] = { "a", "b", NULL };

/* One field of every type, named by short keys a fuzzer finds quickly. */
static const struct http_field fuzz_fields[] = {
	{ "t", HTTP_FT_TEXT, 16, 0, NULL, 0, 0 },
	{ "l", HTTP_FT_LINE, 0, HTTP_FIELD_REQUIRED, NULL, 0, 0 },
	{ "e", HTTP_FT_EMAIL, 0, 0, NULL, 0, 0 },
	{ "i", HTTP_FT_INT64, 0, 0, NULL, -100, 100 },
	{ "u", HTTP_FT_UINT, 0, HTTP_FIELD_MULTI, NULL, 0, 0 },
	{ "b", HTTP_FT_BOOL, 0, 0, NULL, 0, 0 },
	{ "d", HTTP_FT_DATE, 0, 0, NULL, 0, 0 },
	{ "dt", HTTP_FT_DATETIME, 0, 0, NULL, 0, 0 },
	{ "k", HTTP_FT_TOKEN, 0, 0, NULL, 0, 0 },
	{ "z", HTTP_FT_TZ, 64, 0, NULL, 0, 0 },
	{ "c", HTTP_FT_ENUM, 0, 0, fuzz_choices, 0, 0 },
};

#define FUZZ_NFIELDS (sizeof(fuzz_fields) / sizeof(fuzz_fields[0]))

/* Trap unless every pair keeps the parser's promises; then run the validators over the list. */
static void
fuzz_check_pairs(const struct kvlist *l, size_t max_pairs)
{
	struct http_value out[FUZZ_NFIELDS];
	size_t i, klen, problems = 0;

	if (l->n > max_pairs)
		__builtin_trap();
	for (i = 0; i < l->n; i++) {
		klen = strlen(l->v[i].key);
		if (klen == 0 || klen > LIMIT_FIELD_NAME_MAX || l->v[i].vlen != strlen(l->v[i].val) ||
		    l->v[i].vlen > LIMIT_FIELD_VALUE_MAX)
			__builtin_trap();
	}
	if (http_validate(fuzz_fields, FUZZ_NFIELDS, l, out) > FUZZ_NFIELDS)
		__builtin_trap();
	for (i = 0; i < FUZZ_NFIELDS; i++) {
		if (out[i].valid && (!out[i].present || out[i].reason != NULL))
			__builtin_trap();
		if (!out[i].valid && (out[i].present || (fuzz_fields[i].flags & HTTP_FIELD_REQUIRED)))
			problems++;
		if (out[i].valid && fuzz_fields[i].type == HTTP_FT_TEXT && !http_utf8_valid(out[i].s, out[i].len))
			__builtin_trap();
	}
	if (problems != http_validate(fuzz_fields, FUZZ_NFIELDS, l, out))
		__builtin_trap();
}

#endif
