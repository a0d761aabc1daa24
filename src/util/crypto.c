/* crypto.c: key derivation, MACs, tokens, password hashing, sealing and base64, all on OpenSSL. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "util/crypto.h"
#include "util/limits.h"

/* HKDF salt: fixed, so the same secret always yields the same keys; versioned so a rotation of the
 * derivation can coexist with the old one. */
#define HKDF_SALT "timebridge/hkdf-salt/v1"

/* Password hashing. The parameters written by crypto_password_hash(); verify reads them back from the
 * stored string, so these can be raised later without invalidating existing hashes. */
#define SCRYPT_N          32768u
#define SCRYPT_R          8u
#define SCRYPT_P          1u
#define SCRYPT_SALT_LEN   16
#define SCRYPT_HASH_LEN   32
/* Bounds on stored parameters: a corrupt or malicious row must not make one login cost more than a few
 * times the default in CPU (N*r*p) or more than 64 MiB (128*N*r) of memory. */
#define SCRYPT_N_MIN      1024u
#define SCRYPT_N_MAX      (1u << 20)
#define SCRYPT_R_MAX      32u
#define SCRYPT_P_MAX      16u
#define SCRYPT_WORK_MAX   (4u * SCRYPT_N * SCRYPT_R * SCRYPT_P)
#define SCRYPT_MEM_MAX    (64u * 1024 * 1024)
/* OpenSSL also counts 2 extra blocks of V and the p*128*r bytes of B against maxmem, hence the slack. */
#define SCRYPT_MAXMEM     ((uint64_t)SCRYPT_MEM_MAX + 1024 * 1024)
/* Salts of other lengths are accepted; the hash length is fixed, so a truncated hash is malformed. */
#define SCRYPT_SALT_MIN   16
#define SCRYPT_SALT_MAX   64
#define SCRYPT_PREFIX     "scrypt$"

#define SEAL_PREFIX       "v1:"
#define SEAL_PREFIX_LEN   (sizeof(SEAL_PREFIX) - 1)
/* EVP takes int lengths; anything near that is a bug, not a secret. */
#define SEAL_PLAIN_MAX    ((size_t)INT_MAX / 2)

_Static_assert(SCRYPT_N >= SCRYPT_N_MIN && SCRYPT_N <= SCRYPT_N_MAX, "default N within bounds");
_Static_assert(128u * SCRYPT_N * SCRYPT_R <= SCRYPT_MEM_MAX, "default scrypt memory within bounds");
_Static_assert(sizeof(SCRYPT_PREFIX) - 1 + 3 * 11 + 3 + 22 + 43 + 1 <= 128, "stored hash fits 128 bytes");

/* The only mutable global state: written by crypto_init() before any thread starts, read-only after. */
static unsigned char keys[CRYPTO_KEY__MAX][CRYPTO_KEY_LEN];
static int keys_ready;

/* HKDF "info" per purpose: changing a name changes that key. */
static const char *const key_info[CRYPTO_KEY__MAX] = {
	[CRYPTO_KEY_SESSION] = "session",
	[CRYPTO_KEY_CSRF]    = "csrf",
	[CRYPTO_KEY_SEAL]    = "seal",
	[CRYPTO_KEY_TOKEN]   = "token",
};

/* Constant-time byte comparisons for the base64 alphabet (arguments 0..255): 0xFF if true, else 0. */
#define CT_EQ(x, y) ((((0U - ((unsigned int)(x) ^ (unsigned int)(y))) >> 8) & 0xFF) ^ 0xFF)
#define CT_GT(x, y) ((((unsigned int)(y) - (unsigned int)(x)) >> 8) & 0xFF)
#define CT_GE(x, y) (CT_GT(y, x) ^ 0xFF)
#define CT_LT(x, y) CT_GT(y, x)
#define CT_LE(x, y) CT_GE(y, x)

/* Key derivation */

static int
hkdf_sha256(const unsigned char *ikm, size_t ikmlen, const char *info, unsigned char out[CRYPTO_KEY_LEN])
{
	EVP_PKEY_CTX *pctx;
	size_t outlen = CRYPTO_KEY_LEN;
	int rc = -1;

	if ((pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_derive_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set1_hkdf_salt(pctx, (const unsigned char *)HKDF_SALT, (int)strlen(HKDF_SALT)) <= 0 ||
	    EVP_PKEY_CTX_set1_hkdf_key(pctx, ikm, (int)ikmlen) <= 0 ||
	    EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *)info, (int)strlen(info)) <= 0 ||
	    EVP_PKEY_derive(pctx, out, &outlen) <= 0 || outlen != CRYPTO_KEY_LEN)
		goto out;
	rc = 0;
out:
	/* The context holds a copy of the secret; EVP_PKEY_CTX_free clears it. */
	EVP_PKEY_CTX_free(pctx);
	if (rc != 0) {
		OPENSSL_cleanse(out, CRYPTO_KEY_LEN);
		ERR_clear_error();
	}
	return rc;
}

int
crypto_init(const char *secret, size_t len)
{
	unsigned char tmp[CRYPTO_KEY__MAX][CRYPTO_KEY_LEN];
	int i, rc = -1;

	/* Fail closed: after a failed (re)initialisation no key is usable. */
	crypto_shutdown();
	if (secret == NULL || len < LIMIT_SECRET_KEY_MIN || len > INT_MAX)
		goto out;
	for (i = 0; i < CRYPTO_KEY__MAX; i++)
		if (hkdf_sha256((const unsigned char *)secret, len, key_info[i], tmp[i]) != 0)
			goto out;
	memcpy(keys, tmp, sizeof(keys));
	keys_ready = 1;
	rc = 0;
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return rc;
}

const unsigned char *
crypto_key(enum crypto_key k)
{
	if (!keys_ready || (unsigned int)k >= CRYPTO_KEY__MAX)
		return NULL;
	return keys[k];
}

void
crypto_shutdown(void)
{
	OPENSSL_cleanse(keys, sizeof(keys));
	keys_ready = 0;
}

/* Randomness and tokens */

int
crypto_random(void *out, size_t n)
{
	unsigned char *p = out;
	int chunk;

	if (p == NULL && n)
		return -1;
	/* RAND_bytes takes an int. */
	while (n) {
		chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (RAND_bytes(p, chunk) != 1) {
			ERR_clear_error();
			return -1;
		}
		p += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

double
crypto_rand01(void)
{
	uint32_t v;

	/* Not a secret, but OpenSSL's generator needs no seeding. */
	if (crypto_random(&v, sizeof(v)) != 0)
		return 0.5;
	return v / 4294967296.0;
}

int
crypto_token(char *out, size_t outsz, size_t nbytes)
{
	unsigned char *raw = NULL;
	int rc = -1;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (nbytes == 0 || (raw = malloc(nbytes)) == NULL)
		goto out;
	if (crypto_random(raw, nbytes) != 0)
		goto out;
	if (crypto_b64_encode(raw, nbytes, out, outsz, 1) < 0)
		goto out;
	rc = 0;
out:
	if (raw) {
		OPENSSL_cleanse(raw, nbytes);
		free(raw);
	}
	return rc;
}

/* Hashes and MACs */

static int
sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	unsigned int outlen = 0;

	if (data == NULL)
		data = "";
	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != CRYPTO_SHA256_LEN) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* HMAC-SHA256 keyed afresh per call from a template context made once: HMAC() and EVP_MAC_init() with a
 * digest name look the algorithms up in OpenSSL's provider store on every call, which costs more than the
 * MAC of a webhook body (two MACs per delivery). NULL if OpenSSL could not make it. */
static EVP_MAC_CTX *hmac_template;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_template_make(void)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end() };
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

	if (mac && (hmac_template = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_CTX_set_params(hmac_template, params) != 1) {
		EVP_MAC_CTX_free(hmac_template);
		hmac_template = NULL;
	}
	EVP_MAC_free(mac);   /* the context keeps its own reference */
	ERR_clear_error();
}

static int
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0;
	int rc = -1;

	pthread_once(&hmac_once, hmac_template_make);
	if (hmac_template == NULL || (ctx = EVP_MAC_CTX_dup(hmac_template)) == NULL)
		goto out;
	if (EVP_MAC_init(ctx, key ? key : (const void *)"", key ? keylen : 0, NULL) != 1 ||
	    EVP_MAC_update(ctx, data ? data : (const void *)"", data ? len : 0) != 1 ||
	    EVP_MAC_final(ctx, out, &outlen, CRYPTO_SHA256_LEN) != 1 || outlen != CRYPTO_SHA256_LEN)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);   /* frees the keyed state cleansed */
	if (rc != 0)
		ERR_clear_error();
	return rc;
}

/* The void API cannot report failure (only possible on OOM): fill the output with random bytes so it
 * matches nothing an attacker could send, rather than a predictable all-zero value. */
static void
poison(unsigned char out[CRYPTO_SHA256_LEN])
{
	if (crypto_random(out, CRYPTO_SHA256_LEN) != 0)
		memset(out, 0xa5, CRYPTO_SHA256_LEN);
}

void
crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	if (sha256(data, len, out) != 0)
		poison(out);
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	if (hmac_sha256(key, keylen, data, len, out) != 0)
		poison(out);
}

void
crypto_hex(const unsigned char *in, size_t n, char *out)
{
	unsigned int hi, lo;
	size_t i;

	/* Branch- and table-free, because the input is often a MAC or a token. */
	for (i = 0; i < n; i++) {
		hi = in[i] >> 4;
		lo = in[i] & 0xf;
		out[2 * i]     = (char)(unsigned char)(87U + hi + (((hi - 10U) >> 8) & ~38U));
		out[2 * i + 1] = (char)(unsigned char)(87U + lo + (((lo - 10U) >> 8) & ~38U));
	}
	out[2 * n] = '\0';
}

int
crypto_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return 0;
	if (alen == 0)
		return 1;
	if (a == NULL || b == NULL)
		return 0;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

int
crypto_verify_sha256_header(const char *header, const void *key, size_t keylen,
    const void *body, size_t bodylen)
{
	unsigned char mac[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	const char *sig;
	int ok = 0;

	/* An empty key would make every signature forgeable: a missing secret verifies nothing. */
	if (header == NULL || key == NULL || keylen == 0 || (body == NULL && bodylen))
		return 0;
	if (strncmp(header, "sha256=", 7) != 0)
		return 0;
	sig = header + 7;
	if (hmac_sha256(key, keylen, body, bodylen, mac) != 0)
		goto out;
	/* Compare the lowercase hex itself: uppercase or any other spelling simply does not match. */
	crypto_hex(mac, sizeof(mac), hex);
	ok = crypto_eq(hex, 2 * CRYPTO_SHA256_LEN, sig, strlen(sig));
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(hex, sizeof(hex));
	return ok;
}

void
crypto_token_hash(const char *token, char out[2 * CRYPTO_SHA256_LEN + 1])
{
	unsigned char mac[CRYPTO_SHA256_LEN];

	/* Without a key or on failure the result is "", which equals no stored hash. */
	out[0] = '\0';
	if (token == NULL || !keys_ready)
		return;
	if (hmac_sha256(keys[CRYPTO_KEY_TOKEN], CRYPTO_KEY_LEN, token, strlen(token), mac) != 0)
		return;
	crypto_hex(mac, sizeof(mac), out);
	OPENSSL_cleanse(mac, sizeof(mac));
}

/* Passwords */

static int
scrypt_derive(const char *password, size_t pwlen, const unsigned char *salt, size_t saltlen,
    uint64_t n, uint64_t r, uint64_t p, unsigned char *out, size_t outlen)
{
	if (EVP_PBE_scrypt(password, pwlen, salt, saltlen, n, r, p, SCRYPT_MAXMEM, out, outlen) != 1) {
		OPENSSL_cleanse(out, outlen);
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Parse a decimal field of at most 10 digits, without sign, space or leading zero, ending at '$'.
 * Advances *sp past the '$'. */
static int
parse_param(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i == 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0 || s[i] != '$' || (s[0] == '0' && i > 1))
		return -1;
	*out = v;
	*sp = s + i + 1;
	return 0;
}

/* Decode a URL-safe base64 field of min..max bytes ending at '$' (term) or NUL (!term). */
static int
parse_b64(const char **sp, int term, unsigned char *out, size_t min, size_t max, size_t *outlen)
{
	const char *s = *sp, *end;
	long n;

	end = term ? strchr(s, '$') : s + strlen(s);
	if (end == NULL || (size_t)(end - s) > (max * 4 + 2) / 3)
		return -1;
	if ((n = crypto_b64_decode(s, (size_t)(end - s), out, max, 1)) < 0 || (size_t)n < min)
		return -1;
	*outlen = (size_t)n;
	*sp = term ? end + 1 : end;
	return 0;
}

static int
scrypt_params_ok(uint64_t n, uint64_t r, uint64_t p)
{
	/* Each factor bounded first, so the products below cannot overflow. */
	if (n < SCRYPT_N_MIN || n > SCRYPT_N_MAX || (n & (n - 1)) != 0)
		return 0;
	if (r < 1 || r > SCRYPT_R_MAX || p < 1 || p > SCRYPT_P_MAX)
		return 0;
	if (n * r * p > SCRYPT_WORK_MAX || 128 * n * r > SCRYPT_MEM_MAX)
		return 0;
	return 1;
}

int
crypto_password_hash(const char *password, char *out, size_t outsz)
{
	unsigned char salt[SCRYPT_SALT_LEN], dk[SCRYPT_HASH_LEN];
	char salt64[SCRYPT_SALT_LEN * 2], dk64[SCRYPT_HASH_LEN * 2];
	size_t pwlen;
	int n, rc = -1;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (password == NULL || (pwlen = strlen(password)) > LIMIT_PASSWORD_MAX)
		goto out;
	if (crypto_random(salt, sizeof(salt)) != 0 ||
	    scrypt_derive(password, pwlen, salt, sizeof(salt), SCRYPT_N, SCRYPT_R, SCRYPT_P, dk, sizeof(dk)) != 0)
		goto out;
	if (crypto_b64_encode(salt, sizeof(salt), salt64, sizeof(salt64), 1) < 0 ||
	    crypto_b64_encode(dk, sizeof(dk), dk64, sizeof(dk64), 1) < 0)
		goto out;
	n = snprintf(out, outsz, SCRYPT_PREFIX "%u$%u$%u$%s$%s", SCRYPT_N, SCRYPT_R, SCRYPT_P, salt64, dk64);
	if (n < 0 || (size_t)n >= outsz)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(dk, sizeof(dk));
	OPENSSL_cleanse(dk64, sizeof(dk64));
	if (rc != 0)
		OPENSSL_cleanse(out, outsz);
	return rc;
}

int
crypto_password_verify(const char *password, const char *stored)
{
	unsigned char salt[SCRYPT_SALT_MAX], want[SCRYPT_HASH_LEN], got[SCRYPT_HASH_LEN];
	size_t pwlen, saltlen, hashlen;
	uint64_t n, r, p;
	const char *s;
	int ok = 0;

	if (password == NULL || stored == NULL || (pwlen = strlen(password)) > LIMIT_PASSWORD_MAX)
		return 0;
	/* Everything is validated before any work, so a bad row costs nothing. */
	s = stored;
	if (strncmp(s, SCRYPT_PREFIX, sizeof(SCRYPT_PREFIX) - 1) != 0)
		goto out;
	s += sizeof(SCRYPT_PREFIX) - 1;
	if (parse_param(&s, &n) != 0 || parse_param(&s, &r) != 0 || parse_param(&s, &p) != 0 ||
	    !scrypt_params_ok(n, r, p))
		goto out;
	if (parse_b64(&s, 1, salt, SCRYPT_SALT_MIN, SCRYPT_SALT_MAX, &saltlen) != 0 ||
	    parse_b64(&s, 0, want, SCRYPT_HASH_LEN, SCRYPT_HASH_LEN, &hashlen) != 0)
		goto out;
	if (scrypt_derive(password, pwlen, salt, saltlen, n, r, p, got, sizeof(got)) != 0)
		goto out;
	ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
out:
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* Sealing */

int
crypto_seal(const void *plain, size_t len, const char *aad, char **out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	char *s = NULL;
	size_t aadlen, rawlen, b64len;
	int n, rc = -1;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (!keys_ready || (plain == NULL && len) || len > SEAL_PLAIN_MAX)
		goto out;
	if (aad == NULL)
		aad = "";
	if ((aadlen = strlen(aad)) > INT_MAX)
		goto out;
	rawlen = CRYPTO_GCM_IV_LEN + len + CRYPTO_GCM_TAG_LEN;
	b64len = (rawlen + 2) / 3 * 4;
	if ((raw = malloc(rawlen)) == NULL || (s = malloc(SEAL_PREFIX_LEN + b64len + 1)) == NULL)
		goto out;
	/* A fresh random IV per message: 2^-32 collision odds only after ~2^32 seals with one key. */
	if (crypto_random(raw, CRYPTO_GCM_IV_LEN) != 0)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_GCM_IV_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, keys[CRYPTO_KEY_SEAL], raw) != 1)
		goto out;
	if (aadlen && EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)aadlen) != 1)
		goto out;
	if (len && (EVP_EncryptUpdate(ctx, raw + CRYPTO_GCM_IV_LEN, &n, plain, (int)len) != 1 || (size_t)n != len))
		goto out;
	if (EVP_EncryptFinal_ex(ctx, raw + CRYPTO_GCM_IV_LEN + len, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_GCM_TAG_LEN, raw + CRYPTO_GCM_IV_LEN + len) != 1)
		goto out;
	memcpy(s, SEAL_PREFIX, SEAL_PREFIX_LEN);
	if (crypto_b64_encode(raw, rawlen, s + SEAL_PREFIX_LEN, b64len + 1, 0) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	/* raw and s hold only IV, ciphertext and tag; the context's key schedule is cleared on free. */
	EVP_CIPHER_CTX_free(ctx);
	free(raw);
	free(s);
	if (rc != 0)
		ERR_clear_error();
	return rc;
}

int
crypto_open(const char *sealed, const char *aad, char **out, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL, *pt = NULL;
	const char *b64;
	size_t aadlen, b64len, ctlen = 0;
	long rawlen;
	int n, rc = -1;

	if (out == NULL || outlen == NULL)
		return -1;
	*out = NULL;
	*outlen = 0;
	if (!keys_ready || sealed == NULL || strncmp(sealed, SEAL_PREFIX, SEAL_PREFIX_LEN) != 0)
		goto out;
	if (aad == NULL)
		aad = "";
	b64 = sealed + SEAL_PREFIX_LEN;
	b64len = strlen(b64);
	if ((aadlen = strlen(aad)) > INT_MAX || b64len / 4 * 3 > SEAL_PLAIN_MAX)
		goto out;
	if ((raw = malloc(b64len / 4 * 3 + 1)) == NULL)
		goto out;
	if ((rawlen = crypto_b64_decode(b64, b64len, raw, b64len / 4 * 3, 0)) < 0 ||
	    (size_t)rawlen < CRYPTO_GCM_IV_LEN + CRYPTO_GCM_TAG_LEN)
		goto out;
	ctlen = (size_t)rawlen - CRYPTO_GCM_IV_LEN - CRYPTO_GCM_TAG_LEN;
	if ((pt = malloc(ctlen + 1)) == NULL)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_GCM_IV_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, keys[CRYPTO_KEY_SEAL], raw) != 1)
		goto out;
	if (aadlen && EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)aadlen) != 1)
		goto out;
	if (ctlen && (EVP_DecryptUpdate(ctx, pt, &n, raw + CRYPTO_GCM_IV_LEN, (int)ctlen) != 1 ||
	    (size_t)n != ctlen))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_GCM_TAG_LEN,
	        raw + CRYPTO_GCM_IV_LEN + ctlen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + ctlen, &n) != 1)
		goto out;
	pt[ctlen] = '\0';
	*out = (char *)pt;
	*outlen = ctlen;
	pt = NULL;
	rc = 0;
out:
	/* On failure pt holds unauthenticated plaintext: wipe it too. */
	if (pt) {
		OPENSSL_cleanse(pt, ctlen + 1);
		free(pt);
	}
	EVP_CIPHER_CTX_free(ctx);
	free(raw);
	if (rc != 0)
		ERR_clear_error();
	return rc;
}

/* Wiping */

void
crypto_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void
crypto_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* Base64: branch- and table-free per character, since tokens, keys and sealed secrets pass through. */

static char
b64_char(unsigned int x, int urlsafe)
{
	unsigned int c62 = urlsafe ? '-' : '+', c63 = urlsafe ? '_' : '/';

	return (char)(unsigned char)((CT_LT(x, 26) & (x + 'A')) |
	    (CT_GE(x, 26) & CT_LT(x, 52) & (x + ('a' - 26))) |
	    (CT_GE(x, 52) & CT_LT(x, 62) & (x - (52 - '0'))) |
	    (CT_EQ(x, 62) & c62) | (CT_EQ(x, 63) & c63));
}

/* 0..63, or 0xFF for a character outside the alphabet. */
static unsigned int
b64_val(char ch, int urlsafe)
{
	unsigned int c = (unsigned char)ch, x;
	unsigned int c62 = urlsafe ? '-' : '+', c63 = urlsafe ? '_' : '/';

	x = (CT_GE(c, 'A') & CT_LE(c, 'Z') & (c - 'A')) |
	    (CT_GE(c, 'a') & CT_LE(c, 'z') & (c - ('a' - 26))) |
	    (CT_GE(c, '0') & CT_LE(c, '9') & (c + (52 - '0'))) |
	    (CT_EQ(c, c62) & 62) | (CT_EQ(c, c63) & 63);
	return x | (CT_EQ(x, 0) & (CT_EQ(c, 'A') ^ 0xFF));
}

long
crypto_b64_encode(const unsigned char *in, size_t n, char *out, size_t outsz, int urlsafe)
{
	size_t full = n / 3, rem = n % 3, len, i, o = 0;
	uint32_t v;

	if (out == NULL || outsz == 0 || (in == NULL && n))
		return -1;
	out[0] = '\0';
	if (full > (SIZE_MAX - 8) / 4)
		return -1;
	len = full * 4 + (rem == 0 ? 0 : urlsafe ? rem + 1 : 4);
	if (len > LONG_MAX || outsz < len + 1)
		return -1;
	for (i = 0; i < full * 3; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_char(v >> 18 & 63, urlsafe);
		out[o++] = b64_char(v >> 12 & 63, urlsafe);
		out[o++] = b64_char(v >> 6 & 63, urlsafe);
		out[o++] = b64_char(v & 63, urlsafe);
	}
	if (rem) {
		v = (uint32_t)in[i] << 16 | (rem == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64_char(v >> 18 & 63, urlsafe);
		out[o++] = b64_char(v >> 12 & 63, urlsafe);
		if (rem == 2)
			out[o++] = b64_char(v >> 6 & 63, urlsafe);
		else if (!urlsafe)
			out[o++] = '=';
		if (!urlsafe)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

long
crypto_b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz, int urlsafe)
{
	size_t rem, full, len, i, o = 0;
	unsigned int a, b, c, d, bad = 0;
	uint32_t v;

	if ((in == NULL && n) || (out == NULL && outsz))
		return -1;
	/* Standard: padding required. URL-safe: no padding, so '=' is just an invalid character. */
	if (!urlsafe) {
		if (n % 4 != 0)
			return -1;
		if (n && in[n - 1] == '=')
			n--;
		if (n && in[n - 1] == '=')
			n--;
	}
	rem = n % 4;
	if (rem == 1)
		return -1;
	full = n / 4;
	len = full * 3 + (rem ? rem - 1 : 0);
	if (len > outsz || len > LONG_MAX)
		return -1;
	for (i = 0; i < full * 4; i += 4) {
		a = b64_val(in[i], urlsafe);
		b = b64_val(in[i + 1], urlsafe);
		c = b64_val(in[i + 2], urlsafe);
		d = b64_val(in[i + 3], urlsafe);
		bad |= (a | b | c | d) >> 6;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	if (rem) {
		a = b64_val(in[i], urlsafe);
		b = b64_val(in[i + 1], urlsafe);
		c = rem == 3 ? b64_val(in[i + 2], urlsafe) : 0;
		bad |= (a | b | c) >> 6;
		/* Canonical encodings only: the bits beyond the last byte must be zero. */
		bad |= rem == 3 ? (c & 3) : (b & 15);
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
		out[o++] = (unsigned char)(v >> 16);
		if (rem == 3)
			out[o++] = (unsigned char)(v >> 8);
	}
	if (bad) {
		if (o)
			OPENSSL_cleanse(out, o);
		return -1;
	}
	return (long)o;
}
