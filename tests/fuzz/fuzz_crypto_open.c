/* fuzz_crypto_open.c: libFuzzer target for the parsers of untrusted or stored crypto strings: sealed
 * secrets (crypto_open), stored password hashes (crypto_password_verify), webhook signature headers
 * (crypto_verify_sha256_header) and base64 decoding. None may crash, leak or read out of bounds.
 *
 * Input: "<A>\n<B>" (no newline: A is empty). B is the sealed string, stored hash or header; A is the
 * AAD, password or body. Seeds were made with FUZZ_SECRET below, so valid-looking inputs reach GCM. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

#define FUZZ_SECRET "timebridge-fuzz-secret-0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	unsigned char dec[4096];
	char *s, *a, *b, *nl, *out = NULL;
	size_t outlen = 0;
	int urlsafe;

	if (!ready) {
		if (crypto_init(FUZZ_SECRET, strlen(FUZZ_SECRET)) != 0)
			abort();
		ready = 1;
	}
	/* Bound the input so one scrypt-free run stays fast; the parsers reject long input anyway. */
	if (size > 8192)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		a = s;
		b = nl + 1;
	} else {
		a = s + size;   /* "" */
		b = s;
	}

	if (crypto_open(b, a, &out, &outlen) == 0) {
		/* Only possible for a seed-derived input: the result must be consistent. */
		if (out == NULL || out[outlen] != '\0')
			abort();
		crypto_free_secret(out);
	} else if (out != NULL || outlen != 0)
		abort();

	(void)crypto_password_verify(a, b);
	(void)crypto_verify_sha256_header(b, a, strlen(a), data, size);

	for (urlsafe = 0; urlsafe <= 1; urlsafe++) {
		long n = crypto_b64_decode(b, strlen(b), dec, sizeof(dec), urlsafe);
		if (n > (long)sizeof(dec))
			abort();
		/* Strict decoding round-trips: re-encoding gives the input back. */
		if (n >= 0 && strlen(b) < 2000) {
			char enc[4096];
			if (crypto_b64_encode(dec, (size_t)n, enc, sizeof(enc), urlsafe) < 0 || strcmp(enc, b) != 0)
				abort();
		}
	}

	free(s);
	return 0;
}
