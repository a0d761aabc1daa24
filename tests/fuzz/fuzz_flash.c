/* fuzz_flash.c: libFuzzer target for the admin pages' flash cookie (src/handlers/page.c): decoding any
 * cookie value never crashes and never yields a message we did not sign; and any message survives an
 * encode-decode round trip (cut to LIMIT_FLASH_MAX on a character boundary). The first byte chooses. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/page.h"
#include "util/crypto.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char key[] = "fuzz-flash-secret-key-0123456789abcdef";
	char *in, msg[LIMIT_FLASH_MAX + 1], cookie[LIMIT_FLASH_MAX * 2], back[LIMIT_FLASH_MAX + 1];
	enum page_flash kind, k2;

	if (!ready) {
		if (crypto_init(key, sizeof(key) - 1) != 0)
			abort();
		ready = 1;
	}
	if (size == 0 || (in = malloc(size)) == NULL)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if (data[0] & 1) {
		/* Any cookie: most are refused; what is accepted is a kind we know and a bounded message. */
		if (page_flash_decode(in, &kind, msg, sizeof(msg)) == 0 &&
		    ((int)kind < 0 || kind > PAGE_FLASH_ERROR || strlen(msg) > LIMIT_FLASH_MAX))
			__builtin_trap();
	} else {
		kind = (enum page_flash)(data[0] / 2 % 3);
		if (strlen(in) == size - 1) {   /* messages hold no NUL */
			if (page_flash_encode(kind, in, cookie, sizeof(cookie)) != 0)
				__builtin_trap();
			if (page_flash_decode(cookie, &k2, back, sizeof(back)) != 0 || k2 != kind ||
			    strncmp(back, in, strlen(back)) != 0 || (strlen(in) <= LIMIT_FLASH_MAX && strcmp(back, in) != 0))
				__builtin_trap();
			/* One flipped character anywhere makes the cookie worthless. */
			cookie[size % strlen(cookie)] ^= 1;
			if (page_flash_decode(cookie, &k2, back, sizeof(back)) == 0 && strcmp(back, in) != 0)
				__builtin_trap();
		}
	}
	free(in);
	return 0;
}
