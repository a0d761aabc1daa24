/* fuzz_form.c: libFuzzer target for http_parse_form() (urlencoded bodies: raw bytes, NUL included). */
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

	if (http_parse_form(&a, (const char *)data, size, &l, &err) == HTTP_POK)
		fuzz_check_pairs(&l, LIMIT_FIELDS_MAX);
	else if (err == NULL || l.n != 0)
		__builtin_trap();
	arena_free(&a);
	return 0;
}
