/* test_crypto.c: unit tests of src/util/crypto.c (known-answer vectors, tamper and malformed inputs). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/crypto.h"
#include "util/limits.h"
#include "check.h"

#define SECRET  "0123456789abcdef0123456789abcdef"   /* exactly LIMIT_SECRET_KEY_MIN */
#define SECRET2 "fedcba9876543210fedcba9876543210"
_Static_assert(sizeof(SECRET) - 1 >= LIMIT_SECRET_KEY_MIN, "test secret long enough");

/* Toggl Track's documented webhook vectors (/work/shared/fixtures/toggl-webhook-signature-vectors.json). */
#define TOGGL_SECRET "PGuRrhCFajIyEvFlreKL"
static const char toggl_body1[] =
    "{\"event_id\":0,\"created_at\":\"2022-06-25T03:58:10.207820267Z\",\"creator_id\":6,"
    "\"metadata\":{\"request_type\":\"POST\",\"event_user_id\":6},\"payload\":\"ping\","
    "\"subscription_id\":6,\"timestamp\":\"2022-06-25T03:58:10.207820267Z\","
    "\"url_callback\":\"https://callback-url.com\"}";
static const char toggl_sig1[] = "sha256=bf829606cda0ca6923defb5ca70a43135adc7e8887486a201a19cb50ca6006b1";
static const char toggl_body2[] =
    "{\"event_id\":0,\"created_at\":\"2022-06-25T03:58:10.207820267Z\",\"creator_id\":6,"
    "\"metadata\":{\"request_type\":\"POST\",\"event_user_id\":6},\"payload\":\"ping\","
    "\"subscription_id\":6}";
static const char toggl_sig2[] = "sha256=55343383e52a9cd2f56bd4e9fb5b6ce6982fb45955f26ea816cf7495d98c5fd2";

static int
verify(const char *header, const char *secret, const char *body, size_t bodylen)
{
	return crypto_verify_sha256_header(header, secret, strlen(secret), body, bodylen);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_webhook_signature(void)
{
	char body[sizeof(toggl_body1)], sig[sizeof(toggl_sig1) + 1];
	size_t len = strlen(toggl_body1), i;

	CHECK_INT(verify(toggl_sig1, TOGGL_SECRET, toggl_body1, strlen(toggl_body1)), 1);
	CHECK_INT(verify(toggl_sig2, TOGGL_SECRET, toggl_body2, strlen(toggl_body2)), 1);
	/* Each signature belongs to its own body. */
	CHECK_INT(verify(toggl_sig1, TOGGL_SECRET, toggl_body2, strlen(toggl_body2)), 0);
	CHECK_INT(verify(toggl_sig2, TOGGL_SECRET, toggl_body1, strlen(toggl_body1)), 0);

	/* One byte of the body changed, anywhere. */
	memcpy(body, toggl_body1, sizeof(body));
	body[len / 2] ^= 1;
	CHECK_INT(verify(toggl_sig1, TOGGL_SECRET, body, len), 0);
	memcpy(body, toggl_body1, sizeof(body));
	body[len - 1] = ' ';
	CHECK_INT(verify(toggl_sig1, TOGGL_SECRET, body, len), 0);
	/* Body truncated by one byte, or the NUL counted in. */
	CHECK_INT(verify(toggl_sig1, TOGGL_SECRET, toggl_body1, len - 1), 0);
	CHECK_INT(verify(toggl_sig1, TOGGL_SECRET, toggl_body1, len + 1), 0);
	/* Wrong secret. */
	CHECK_INT(verify(toggl_sig1, "PGuRrhCFajIyEvFlreKM", toggl_body1, len), 0);

	/* Signature changed: last digit, first digit. */
	memcpy(sig, toggl_sig1, sizeof(toggl_sig1));
	sig[strlen(sig) - 1] = '0';
	CHECK_INT(verify(sig, TOGGL_SECRET, toggl_body1, len), 0);
	memcpy(sig, toggl_sig1, sizeof(toggl_sig1));
	sig[7] = 'c';
	CHECK_INT(verify(sig, TOGGL_SECRET, toggl_body1, len), 0);
	/* Missing or misspelt prefix. */
	CHECK_INT(verify(toggl_sig1 + 7, TOGGL_SECRET, toggl_body1, len), 0);
	CHECK_INT(verify("SHA256=bf829606cda0ca6923defb5ca70a43135adc7e8887486a201a19cb50ca6006b1",
	    TOGGL_SECRET, toggl_body1, len), 0);
	CHECK_INT(verify("sha1=bf829606cda0ca6923defb5ca70a43135adc7e8887486a201a19cb50ca6006b1",
	    TOGGL_SECRET, toggl_body1, len), 0);
	/* Uppercase hex. */
	memcpy(sig, toggl_sig1, sizeof(toggl_sig1));
	for (i = 7; sig[i]; i++)
		if (sig[i] >= 'a' && sig[i] <= 'f')
			sig[i] = (char)(sig[i] - 'a' + 'A');
	CHECK_INT(verify(sig, TOGGL_SECRET, toggl_body1, len), 0);
	/* Wrong lengths: one digit short, one extra, trailing space or newline, empty, prefix only. */
	memcpy(sig, toggl_sig1, sizeof(toggl_sig1));
	sig[strlen(sig) - 1] = '\0';
	CHECK_INT(verify(sig, TOGGL_SECRET, toggl_body1, len), 0);
	memcpy(sig, toggl_sig1, sizeof(toggl_sig1));
	strcat(sig, "0");
	CHECK_INT(verify(sig, TOGGL_SECRET, toggl_body1, len), 0);
	memcpy(sig, toggl_sig1, sizeof(toggl_sig1));
	strcat(sig, " ");
	CHECK_INT(verify(sig, TOGGL_SECRET, toggl_body1, len), 0);
	memcpy(sig, toggl_sig1, sizeof(toggl_sig1));
	strcat(sig, "\n");
	CHECK_INT(verify(sig, TOGGL_SECRET, toggl_body1, len), 0);
	CHECK_INT(verify("", TOGGL_SECRET, toggl_body1, len), 0);
	CHECK_INT(verify("sha256=", TOGGL_SECRET, toggl_body1, len), 0);
	/* No header, no key. */
	CHECK_INT(crypto_verify_sha256_header(NULL, TOGGL_SECRET, 20, toggl_body1, len), 0);
	CHECK_INT(crypto_verify_sha256_header(toggl_sig1, "", 0, toggl_body1, len), 0);
	CHECK_INT(crypto_verify_sha256_header(toggl_sig1, NULL, 0, toggl_body1, len), 0);
}

static void
test_hashes(void)
{
	unsigned char mac[CRYPTO_SHA256_LEN];
	const unsigned char bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char hex[2 * CRYPTO_SHA256_LEN + 1];

	/* RFC 4231 test case 2. */
	crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	crypto_hex(mac, sizeof(mac), hex);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 test case 6: a key longer than the block, hashed first; then again, as the context is
	 * reused from a template per call; and an empty key over empty data. */
	for (int round = 0; round < 2; round++) {
		unsigned char longkey[131];

		memset(longkey, 0xaa, sizeof(longkey));
		crypto_hmac_sha256(longkey, sizeof(longkey), "Test Using Larger Than Block-Size Key - Hash Key First", 54,
		    mac);
		crypto_hex(mac, sizeof(mac), hex);
		CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	}
	crypto_hmac_sha256("", 0, "", 0, mac);
	crypto_hex(mac, sizeof(mac), hex);
	CHECK_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	crypto_hmac_sha256(NULL, 0, NULL, 0, mac);
	crypto_hex(mac, sizeof(mac), hex);
	CHECK_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");

	/* FIPS 180-2 "abc", and the empty string. */
	crypto_sha256("abc", 3, mac);
	crypto_hex(mac, sizeof(mac), hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("", 0, mac);
	crypto_hex(mac, sizeof(mac), hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	crypto_hex(bytes, sizeof(bytes), hex);
	CHECK_STR(hex, "00017f80abff");
	memset(hex, 'x', sizeof(hex));
	crypto_hex(bytes, 0, hex);
	CHECK_STR(hex, "");
}

static void
test_eq(void)
{
	CHECK_INT(crypto_eq("abc", 3, "abc", 3), 1);
	CHECK_INT(crypto_eq("abc", 3, "abd", 3), 0);
	CHECK_INT(crypto_eq("abc", 3, "abcd", 4), 0);
	CHECK_INT(crypto_eq("abcd", 4, "abc", 3), 0);
	CHECK_INT(crypto_eq("abc", 0, "xyz", 0), 1);
	CHECK_INT(crypto_eq("", 0, "a", 1), 0);
	CHECK_INT(crypto_eq(NULL, 0, NULL, 0), 1);
}

static void
test_init_and_keys(void)
{
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	unsigned char first[CRYPTO_KEY__MAX][CRYPTO_KEY_LEN];
	int i, j;

	CHECK_INT(crypto_init(SECRET, LIMIT_SECRET_KEY_MIN - 1), -1);
	CHECK(crypto_key(CRYPTO_KEY_SESSION) == NULL);
	CHECK_INT(crypto_init(NULL, 64), -1);
	CHECK_INT(crypto_init("", 0), -1);

	CHECK_INT(crypto_init(SECRET, strlen(SECRET)), 0);
	for (i = 0; i < CRYPTO_KEY__MAX; i++) {
		CHECK(crypto_key((enum crypto_key)i) != NULL);
		memcpy(first[i], crypto_key((enum crypto_key)i), CRYPTO_KEY_LEN);
		for (j = 0; j < i; j++)
			CHECK(memcmp(first[i], first[j], CRYPTO_KEY_LEN) != 0);
	}
	CHECK(crypto_key(CRYPTO_KEY__MAX) == NULL);
	CHECK(crypto_key((enum crypto_key)-1) == NULL);

	/* Pinned: HKDF-SHA256(salt "timebridge/hkdf-salt/v1", info "session"/"seal"). Changing the derivation
	 * would make every sealed secret and stored token hash unreadable, so it must be deliberate. */
	crypto_hex(crypto_key(CRYPTO_KEY_SESSION), CRYPTO_KEY_LEN, hex);
	CHECK_STR(hex, "7f75713ce02587e1e8527ceb20042b474c5f96783059bd4b7236be96ec08df24");
	crypto_hex(crypto_key(CRYPTO_KEY_SEAL), CRYPTO_KEY_LEN, hex);
	CHECK_STR(hex, "5aa254fd281915b7d9708fcb70649f0fafd859c17646c7cc20801084b377cf2b");

	/* Deterministic per secret, different for another secret. */
	CHECK_INT(crypto_init(SECRET2, strlen(SECRET2)), 0);
	for (i = 0; i < CRYPTO_KEY__MAX; i++)
		CHECK(memcmp(first[i], crypto_key((enum crypto_key)i), CRYPTO_KEY_LEN) != 0);
	CHECK_INT(crypto_init(SECRET, strlen(SECRET)), 0);
	for (i = 0; i < CRYPTO_KEY__MAX; i++)
		CHECK(memcmp(first[i], crypto_key((enum crypto_key)i), CRYPTO_KEY_LEN) == 0);

	/* A failed re-init leaves no usable key (fail closed). */
	CHECK_INT(crypto_init("short", 5), -1);
	CHECK(crypto_key(CRYPTO_KEY_SEAL) == NULL);
	crypto_hex(first[0], 1, hex);   /* non-empty, so "" below is the function's doing */
	crypto_token_hash("abc", hex);
	CHECK_STR(hex, "");
	CHECK_INT(crypto_init(SECRET, strlen(SECRET)), 0);

	crypto_shutdown();
	CHECK(crypto_key(CRYPTO_KEY_TOKEN) == NULL);
	CHECK_INT(crypto_init(SECRET, strlen(SECRET)), 0);
	memset(first, 0, sizeof(first));
}

static int
urlsafe_alphabet(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '_'))
			return 0;
	return 1;
}

static void
test_tokens(void)
{
	char t1[64], t2[64], small[43];
	char h1[2 * CRYPTO_SHA256_LEN + 1], h2[2 * CRYPTO_SHA256_LEN + 1], h3[2 * CRYPTO_SHA256_LEN + 1];
	unsigned char r1[16], r2[16];

	CHECK_INT(crypto_random(r1, sizeof(r1)), 0);
	CHECK_INT(crypto_random(r2, sizeof(r2)), 0);
	CHECK(memcmp(r1, r2, sizeof(r1)) != 0);
	CHECK_INT(crypto_random(NULL, 0), 0);

	CHECK_INT(crypto_token(t1, sizeof(t1), LIMIT_TOKEN_BYTES), 0);
	CHECK_INT(crypto_token(t2, sizeof(t2), LIMIT_TOKEN_BYTES), 0);
	CHECK_INT(strlen(t1), 43);          /* 32 bytes → 43 chars, no padding */
	CHECK(urlsafe_alphabet(t1));
	CHECK(urlsafe_alphabet(t2));
	CHECK(strcmp(t1, t2) != 0);
	CHECK_INT(crypto_token(t1, sizeof(t1), 1), 0);
	CHECK_INT(strlen(t1), 2);
	CHECK_INT(crypto_token(small, sizeof(small), 32), -1);   /* needs 44 with the NUL */
	CHECK_STR(small, "");
	CHECK_INT(crypto_token(t1, sizeof(t1), 0), -1);

	/* Token hashes: 64 lowercase hex, deterministic, per token, per key. */
	crypto_token_hash("abc", h1);
	CHECK_STR(h1, "dac00fbc421a16778a38836df146b323b256afe6dedab757d2a29182713dede1");
	crypto_token_hash(t2, h1);
	crypto_token_hash(t2, h2);
	CHECK_INT(strlen(h1), 64);
	CHECK_STR(h1, h2);
	crypto_token_hash("abd", h3);
	CHECK(strcmp(h3, h1) != 0);
	CHECK_INT(crypto_init(SECRET2, strlen(SECRET2)), 0);
	crypto_token_hash(t2, h3);
	CHECK_INT(strlen(h3), 64);
	CHECK(strcmp(h3, h1) != 0);
	CHECK_INT(crypto_init(SECRET, strlen(SECRET)), 0);
	crypto_token_hash(t2, h3);
	CHECK_STR(h3, h1);
	crypto_token_hash(NULL, h3);
	CHECK_STR(h3, "");
}

static void
test_passwords(void)
{
	char stored[128], tiny[40], bad[256], *longpw;
	double t0;
	size_t i;
	/* Produced by Python hashlib.scrypt (N=1024): verify reads the parameters from the string. */
	static const char py1[] = "scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM";
	static const char py2[] = "scrypt$1024$2$2$AAECAwQFBgcICQoLDA0ODw$qO3hWqD0ZLAwVSEVUy_hKILg5OfiwCu-afH_uchuJ24";
	static const char pyempty[] = "scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$stES2gu5cPCYTns1hEfg1UV0Stfk6gUpRJTVdkkXQuk";
	static const char pysalt20[] =
	    "scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODxAREhM$v8K0eKmQx11it4u9OsJobq93VoJW2GttG9et4KMHglE";
	static const char *const malformed[] = {
		"",
		"scrypt$",
		"scrypt",
		"bcrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"SCRYPT$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$",
		"scrypt$1024$1$1$$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM$",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM=",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw==$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv+XA7MWIg+yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM ",
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiN", /* non-canonical */
		"scrypt$1024$1$1$AAECAwQFBgc$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",          /* salt 8 bytes */
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYA",        /* hash truncated to 16 bytes */
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiMA",   /* 33 bytes */
		"scrypt$1024$1$1$AAECAwQFBgcICQoLDA0O$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",     /* salt 15 bytes */
		"scrypt$01024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$+1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$ 1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$-1024$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$1000$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",   /* not 2^k */
		"scrypt$512$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",    /* too weak */
		"scrypt$1024$0$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$1024$1$0$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		/* Absurd costs: each must be refused before any work. */
		"scrypt$1073741824$8$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$2147483648$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$18446744073709551616$1$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$131072$8$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",  /* 128 MiB */
		"scrypt$32768$8$16$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM", /* 16x work */
		"scrypt$1024$4294967295$1$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
		"scrypt$1024$1$4294967295$AAECAwQFBgcICQoLDA0ODw$6lgv-XA7MWIg-yKCMWDNYJeA6igSTYE0blzQ13cpbiM",
	};

	CHECK_INT(crypto_password_hash("correct horse battery", stored, sizeof(stored)), 0);
	CHECK(strncmp(stored, "scrypt$32768$8$1$", 17) == 0);
	CHECK_INT(strlen(stored), 17 + 22 + 1 + 43);
	CHECK_INT(crypto_password_verify("correct horse battery", stored), 1);
	CHECK_INT(crypto_password_verify("correct horse batterz", stored), 0);
	/* Salted: the same password hashes differently each time (checked on the cheap salt part only). */
	CHECK_INT(crypto_password_hash("correct horse battery", bad, sizeof(bad)), 0);
	CHECK(strcmp(stored, bad) != 0);
	CHECK_INT(crypto_password_hash("x", tiny, sizeof(tiny)), -1);
	CHECK_STR(tiny, "");

	CHECK_INT(crypto_password_verify("correct horse battery", py1), 1);
	CHECK_INT(crypto_password_verify("correct horse battery", py2), 1);
	CHECK_INT(crypto_password_verify("correct horse batter", py1), 0);
	CHECK_INT(crypto_password_verify("", pyempty), 1);
	CHECK_INT(crypto_password_verify("x", pyempty), 0);
	CHECK_INT(crypto_password_verify("correct horse battery", pysalt20), 1);
	CHECK_INT(crypto_password_verify(NULL, py1), 0);
	CHECK_INT(crypto_password_verify("correct horse battery", NULL), 0);
	/* py1's parameters spelt as py2's: the parameters are part of what is verified. */
	snprintf(bad, sizeof(bad), "scrypt$1024$2$2$%s", py1 + strlen("scrypt$1024$1$1$"));
	CHECK_INT(crypto_password_verify("correct horse battery", bad), 0);

	t0 = now_s();
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (crypto_password_verify("correct horse battery", malformed[i]) != 0) {
			CHECK(!"malformed stored hash accepted");
			fprintf(stderr, "  stored: %s\n", malformed[i]);
		} else
			CHECK(1);
	}
	/* Generous even under valgrind; one real scrypt at N=2^30 would take minutes and 128 GiB. */
	CHECK(now_s() - t0 < 2.0);

	/* Over-long passwords are refused, not hashed. */
	longpw = malloc(LIMIT_PASSWORD_MAX + 2);
	CHECK(longpw != NULL);
	if (longpw) {
		memset(longpw, 'a', LIMIT_PASSWORD_MAX + 1);
		longpw[LIMIT_PASSWORD_MAX + 1] = '\0';
		CHECK_INT(crypto_password_hash(longpw, bad, sizeof(bad)), -1);
		CHECK_INT(crypto_password_verify(longpw, py1), 0);
		free(longpw);
	}
}

static void
test_seal(void)
{
	static const char plain[] = "toggl-api-token-0123456789";
	const unsigned char bin[] = { 'a', 0, 'b', 0xff, 0 };
	char *s1 = NULL, *s2 = NULL, *o = NULL, *t;
	size_t olen = 99, i, n, failed = 0;

	CHECK_INT(crypto_seal(plain, strlen(plain), "toggl_token:42", &s1), 0);
	CHECK(s1 != NULL && strncmp(s1, "v1:", 3) == 0);
	if (s1 == NULL)
		return;
	/* iv(12) + ciphertext + tag(16), base64 with padding. */
	CHECK_INT(strlen(s1), 3 + (12 + strlen(plain) + 16 + 2) / 3 * 4);
	CHECK_INT(crypto_open(s1, "toggl_token:42", &o, &olen), 0);
	CHECK_STR(o, plain);
	CHECK_INT(olen, strlen(plain));
	crypto_free_secret(o);
	o = NULL;

	/* Random IV: sealing twice differs, both open. */
	CHECK_INT(crypto_seal(plain, strlen(plain), "toggl_token:42", &s2), 0);
	CHECK(s2 != NULL && strcmp(s1, s2) != 0);
	CHECK_INT(crypto_open(s2, "toggl_token:42", &o, &olen), 0);
	crypto_free_secret(o);
	o = NULL;

	/* Wrong AAD (other row, other column, none). */
	CHECK_INT(crypto_open(s1, "toggl_token:43", &o, &olen), -1);
	CHECK(o == NULL);
	CHECK_INT(olen, 0);
	CHECK_INT(crypto_open(s1, "google_refresh:42", &o, &olen), -1);
	CHECK_INT(crypto_open(s1, "", &o, &olen), -1);
	CHECK_INT(crypto_open(s1, NULL, &o, &olen), -1);

	/* Every single-character substitution of the base64 text fails (ciphertext, IV or tag bit flipped,
	 * or an invalid encoding). */
	n = strlen(s1);
	if ((t = strdup(s1)) != NULL) {
		for (i = 3; i < n; i++) {
			if (t[i] == '=')
				continue;
			t[i] = t[i] == 'A' ? 'B' : 'A';
			if (crypto_open(t, "toggl_token:42", &o, &olen) != -1 || o != NULL)
				failed++;
			t[i] = s1[i];
		}
		/* A raw bit flip of one character too (mostly lands outside the alphabet). */
		t[10] ^= 0x01;
		CHECK_INT(crypto_open(t, "toggl_token:42", &o, &olen), -1);
		free(t);
	}
	CHECK_INT(failed, 0);

	/* Truncations: a whole base64 quantum, a single character, down to the prefix. */
	if ((t = strdup(s1)) != NULL) {
		t[n - 4] = '\0';
		CHECK_INT(crypto_open(t, "toggl_token:42", &o, &olen), -1);
		t[n - 5] = '\0';
		CHECK_INT(crypto_open(t, "toggl_token:42", &o, &olen), -1);
		t[3 + 36] = '\0';   /* 27 bytes: less than IV + tag */
		CHECK_INT(crypto_open(t, "toggl_token:42", &o, &olen), -1);
		t[3] = '\0';
		CHECK_INT(crypto_open(t, "toggl_token:42", &o, &olen), -1);
		t[2] = '\0';
		CHECK_INT(crypto_open(t, "toggl_token:42", &o, &olen), -1);
		free(t);
	}
	/* Other versions or no prefix. */
	if ((t = strdup(s1)) != NULL) {
		t[1] = '2';
		CHECK_INT(crypto_open(t, "toggl_token:42", &o, &olen), -1);
		CHECK_INT(crypto_open(t + 3, "toggl_token:42", &o, &olen), -1);
		free(t);
	}
	CHECK_INT(crypto_open(NULL, "toggl_token:42", &o, &olen), -1);
	CHECK_INT(crypto_open("", "toggl_token:42", &o, &olen), -1);

	/* Binary with NULs, and empty plaintext. */
	free(s2);
	CHECK_INT(crypto_seal(bin, sizeof(bin), "bin", &s2), 0);
	CHECK_INT(crypto_open(s2, "bin", &o, &olen), 0);
	CHECK_INT(olen, sizeof(bin));
	CHECK(o != NULL && memcmp(o, bin, sizeof(bin)) == 0 && o[olen] == '\0');
	crypto_wipe(o, olen);
	free(o);
	o = NULL;
	free(s2);
	CHECK_INT(crypto_seal("", 0, NULL, &s2), 0);
	CHECK_INT(crypto_open(s2, "", &o, &olen), 0);
	CHECK_STR(o, "");
	CHECK_INT(olen, 0);
	free(o);
	o = NULL;

	/* Another key cannot open it; no key cannot seal or open. */
	CHECK_INT(crypto_init(SECRET2, strlen(SECRET2)), 0);
	CHECK_INT(crypto_open(s1, "toggl_token:42", &o, &olen), -1);
	crypto_shutdown();
	CHECK_INT(crypto_open(s1, "toggl_token:42", &o, &olen), -1);
	free(s2);
	CHECK_INT(crypto_seal(plain, strlen(plain), "x", &s2), -1);
	CHECK(s2 == NULL);
	CHECK_INT(crypto_init(SECRET, strlen(SECRET)), 0);
	CHECK_INT(crypto_open(s1, "toggl_token:42", &o, &olen), 0);
	crypto_free_secret(o);
	free(s1);
}

static void
b64_rt(const char *in, const char *std, const char *url)
{
	char out[64];
	unsigned char dec[64];
	size_t n = strlen(in);

	CHECK_INT(crypto_b64_encode((const unsigned char *)in, n, out, sizeof(out), 0), strlen(std));
	CHECK_STR(out, std);
	CHECK_INT(crypto_b64_decode(std, strlen(std), dec, sizeof(dec), 0), n);
	CHECK(memcmp(dec, in, n) == 0);
	CHECK_INT(crypto_b64_encode((const unsigned char *)in, n, out, sizeof(out), 1), strlen(url));
	CHECK_STR(out, url);
	CHECK_INT(crypto_b64_decode(url, strlen(url), dec, sizeof(dec), 1), n);
	CHECK(memcmp(dec, in, n) == 0);
}

static void
test_base64(void)
{
	const unsigned char special[] = { 0xfb, 0xff, 0xbf };
	unsigned char all[256], dec[400];
	char enc[400], out[8];
	size_t n, bad = 0;
	int url;

	/* RFC 4648 section 10, both alphabets. */
	b64_rt("", "", "");
	b64_rt("f", "Zg==", "Zg");
	b64_rt("fo", "Zm8=", "Zm8");
	b64_rt("foo", "Zm9v", "Zm9v");
	b64_rt("foob", "Zm9vYg==", "Zm9vYg");
	b64_rt("fooba", "Zm9vYmE=", "Zm9vYmE");
	b64_rt("foobar", "Zm9vYmFy", "Zm9vYmFy");

	/* The two alphabets differ only in 62 and 63. */
	CHECK_INT(crypto_b64_encode(special, 3, enc, sizeof(enc), 0), 4);
	CHECK_STR(enc, "+/+/");
	CHECK_INT(crypto_b64_encode(special, 3, enc, sizeof(enc), 1), 4);
	CHECK_STR(enc, "-_-_");
	CHECK_INT(crypto_b64_decode("-_-_", 4, dec, sizeof(dec), 1), 3);
	CHECK(memcmp(dec, special, 3) == 0);
	CHECK_INT(crypto_b64_decode("-_-_", 4, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("+/+/", 4, dec, sizeof(dec), 1), -1);

	/* Every byte value, every length 0..256, both alphabets. */
	for (n = 0; n < sizeof(all); n++)
		all[n] = (unsigned char)(n * 7 + 3);
	for (url = 0; url <= 1; url++)
		for (n = 0; n <= sizeof(all); n++) {
			long e = crypto_b64_encode(all, n, enc, sizeof(enc), url);
			if (e < 0 || crypto_b64_decode(enc, (size_t)e, dec, sizeof(dec), url) != (long)n ||
			    memcmp(dec, all, n) != 0)
				bad++;
		}
	CHECK_INT(bad, 0);

	/* Padding rules: standard requires it, URL-safe refuses it. */
	CHECK_INT(crypto_b64_decode("Zg", 2, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zg=", 3, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zg==", 4, dec, sizeof(dec), 1), -1);
	CHECK_INT(crypto_b64_decode("Z===", 4, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("====", 4, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zg==Zm8=", 8, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Z", 1, dec, sizeof(dec), 1), -1);
	CHECK_INT(crypto_b64_decode("Zm9vY", 5, dec, sizeof(dec), 1), -1);
	/* Non-canonical trailing bits, bad characters, whitespace, embedded NUL. */
	CHECK_INT(crypto_b64_decode("Zh==", 4, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zm9=", 4, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zh", 2, dec, sizeof(dec), 1), -1);
	CHECK_INT(crypto_b64_decode("Zm9v\n", 5, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zm 9", 4, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zm9*", 4, dec, sizeof(dec), 1), -1);
	CHECK_INT(crypto_b64_decode("Zm\0v", 4, dec, sizeof(dec), 0), -1);
	CHECK_INT(crypto_b64_decode("Zm9v\x80", 5, dec, sizeof(dec), 1), -1);
	/* Output buffers too small. */
	CHECK_INT(crypto_b64_decode("Zm9vYmFy", 8, dec, 5, 0), -1);
	CHECK_INT(crypto_b64_decode("Zm9vYmFy", 8, dec, 6, 0), 6);
	CHECK_INT(crypto_b64_encode((const unsigned char *)"foobar", 6, out, 8, 0), -1);
	CHECK_INT(crypto_b64_encode((const unsigned char *)"foobar", 6, enc, 9, 0), 8);
	CHECK_INT(crypto_b64_decode("", 0, NULL, 0, 0), 0);
	CHECK_INT(crypto_b64_decode("", 0, NULL, 0, 1), 0);
}

static void
test_wipe(void)
{
	char buf[16], *s;
	size_t i, nz = 0;

	memset(buf, 'k', sizeof(buf));
	crypto_wipe(buf, sizeof(buf));
	for (i = 0; i < sizeof(buf); i++)
		nz += buf[i] != 0;
	CHECK_INT(nz, 0);
	crypto_wipe(NULL, 10);
	crypto_free_secret(NULL);
	s = strdup("secret");
	crypto_free_secret(s);
	CHECK(1);
}

int
main(void)
{
	test_webhook_signature();
	test_hashes();
	test_eq();
	test_init_and_keys();
	test_tokens();
	test_passwords();
	test_seal();
	test_base64();
	test_wipe();
	crypto_shutdown();
	return CHECK_DONE("test_crypto");
}
