/* fuzz_google_error.c: libFuzzer target for the parsers of Google's answers (src/api/google.c): the error
 * classifier (Calendar API and OAuth error bodies, any status) and the token-endpoint response parser.
 * None may crash, leak, read out of bounds, or produce a message that is not valid UTF-8.
 *
 * Input: one byte choosing the status (from a table of the ones Google sends, or any 100..599), one byte of
 * flags (bit 0: token endpoint), then the body. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/google.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 204, 302, 400, 401, 403, 404, 409, 410, 412, 429, 500, 503 };

/* Valid UTF-8 without control characters: what may go into a log line or a text column. */
static int
clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc2 ? 1 : -1;
		if (n < 0 || (n == 0 && (*p < 0x20 || *p == 0x7f)))
			return 0;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += n + 1;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_google_error e;
	struct api_google_token t;
	char err[160];
	long status;
	int token;

	if (size < 2 || size > 65536)
		return 0;
	status = data[0] < 208 ? statuses[data[0] % 13] : 100 + (data[0] - 208) * 10;
	token = data[1] & 1;
	(void)api_google_classify(status, (const char *)data + 2, size - 2, token, &e);
	if (e.res < 0 || e.res >= API_GOOGLE__MAX || !clean(e.reason) || !clean(e.message))
		abort();
	if (api_google_token_parse((const char *)data + 2, size - 2, &t, err, sizeof(err)) == 0) {
		if (t.access_token == NULL || t.scope == NULL || t.expires_in <= 0 || !clean(t.scope))
			abort();
		(void)api_google_has_scope(t.scope, API_GOOGLE_SCOPE);
		api_google_token_free(&t);
	} else if (t.access_token != NULL || t.refresh_token != NULL)
		abort();
	return 0;
}
