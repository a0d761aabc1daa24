/* fuzz_cookie.c: libFuzzer target for http_parse_cookies() (the HTTP_COOKIE header). */
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
	const char *err = NULL, *p;
	char *hdr;
	size_t i;

	if ((hdr = malloc(size + 1)) == NULL)
		return 0;
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	if (http_parse_cookies(&a, hdr, &l, &err) == HTTP_POK) {
		fuzz_check_pairs(&l, LIMIT_FIELDS_MAX);
		/* What the policy promises: token names, cookie-octet values, no quotes left. */
		for (i = 0; i < l.n; i++) {
			for (p = l.v[i].key; *p; p++) {
				if (*p <= 0x20 || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p) != NULL)
					__builtin_trap();
			}
			for (p = l.v[i].val; *p; p++) {
				if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == ',' || *p == ';' || *p == '\\')
					__builtin_trap();
			}
		}
	} else if (err == NULL || l.n != 0)
		__builtin_trap();
	arena_free(&a);
	free(hdr);
	return 0;
}
