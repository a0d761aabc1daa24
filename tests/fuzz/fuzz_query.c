/* fuzz_query.c: libFuzzer target for http_parse_query() (QUERY_STRING) and the validators behind it. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"
#include "util/buf.h"
#include "util/limits.h"

#include "fuzz_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a = ARENA_INIT;
	struct kvlist l;
	const char *err = NULL;
	char *qs;

	/* QUERY_STRING arrives as a C string, so the parser sees the input up to its first NUL. */
	if ((qs = malloc(size + 1)) == NULL)
		return 0;
	memcpy(qs, data, size);
	qs[size] = '\0';
	if (http_parse_query(&a, qs, &l, &err) == HTTP_POK)
		fuzz_check_pairs(&l, LIMIT_FIELDS_MAX);
	else if (err == NULL || l.n != 0)
		__builtin_trap();  /* every failure must say why, and yield nothing */
	arena_free(&a);
	free(qs);
	return 0;
}
