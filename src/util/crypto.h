/* crypto.h: every cryptographic primitive timebridge uses, on OpenSSL only. */
#ifndef TB_CRYPTO_H
#define TB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN   32
#define CRYPTO_KEY_LEN      32
#define CRYPTO_GCM_IV_LEN   12
#define CRYPTO_GCM_TAG_LEN  16

/* Keys derived from TIMEBRIDGE_SECRET_KEY with HKDF-SHA256, one per purpose ("info" label). */
enum crypto_key {
	CRYPTO_KEY_SESSION = 0,  /* session-id MACs */
	CRYPTO_KEY_CSRF,         /* CSRF tokens */
	CRYPTO_KEY_SEAL,         /* AES-256-GCM encryption at rest */
	CRYPTO_KEY_TOKEN,        /* API/webhook token hashing (HMAC, so a DB dump cannot be brute-forced offline) */
	CRYPTO_KEY__MAX
};

/* Derive all keys; secret must be at least LIMIT_SECRET_KEY_MIN bytes. 0 on success. */
int  crypto_init(const char *secret, size_t len) __attribute__((warn_unused_result));
const unsigned char *crypto_key(enum crypto_key k);
void crypto_shutdown(void);  /* wipes the derived keys */

int  crypto_random(void *out, size_t n) __attribute__((warn_unused_result));
/* Uniform in [0, 1), for jitter (not for secrets); 0.5 if the generator fails. */
double crypto_rand01(void);
/* URL-safe base64 (no padding) of nbytes random bytes into out (size >= 4*nbytes/3+2). 0 on success. */
int  crypto_token(char *out, size_t outsz, size_t nbytes) __attribute__((warn_unused_result));

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
void crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
         unsigned char out[CRYPTO_SHA256_LEN]);
/* Lowercase hex of n bytes into out (size >= 2n+1). */
void crypto_hex(const unsigned char *in, size_t n, char *out);
/* Constant-time equality: lengths compared first (length is not secret), then CRYPTO_memcmp. */
int  crypto_eq(const void *a, size_t alen, const void *b, size_t blen);
/* Verify "sha256=<hex>" over body with key, in constant time. 1 valid, 0 not. Only the exact lowercase
 * form matches; an empty key never verifies. */
int  crypto_verify_sha256_header(const char *header, const void *key, size_t keylen,
         const void *body, size_t bodylen);
/* Hash of a bearer token for storage/lookup: hex(HMAC(CRYPTO_KEY_TOKEN, token)), out >= 65 bytes. */
void crypto_token_hash(const char *token, char out[2 * CRYPTO_SHA256_LEN + 1]);

/* Passwords: scrypt, stored as "scrypt$N$r$p$<b64 salt>$<b64 hash>" (URL-safe base64, no padding; 16-byte
 * salt, 32-byte hash). out >= 128 bytes. Passwords longer than LIMIT_PASSWORD_MAX are refused. */
int  crypto_password_hash(const char *password, char *out, size_t outsz) __attribute__((warn_unused_result));
/* 1 match, 0 mismatch or malformed stored string. Constant time in the hash comparison. N, r, p are read
 * from the string and bounded (memory <= 64 MiB, work <= 4x today's default) before any work is done. */
int  crypto_password_verify(const char *password, const char *stored);

/* AES-256-GCM with CRYPTO_KEY_SEAL. Sealed form: "v1:" base64(iv || ciphertext || tag), NUL-terminated,
 * malloc'ed into *out. aad binds the ciphertext to its row (e.g. "toggl_token:42"). 0 on success. */
int  crypto_seal(const void *plain, size_t len, const char *aad, char **out) __attribute__((warn_unused_result));
/* Reverse; *out is malloc'ed, NUL-terminated (for text secrets), *outlen without the NUL. Fails on tamper. */
int  crypto_open(const char *sealed, const char *aad, char **out, size_t *outlen) __attribute__((warn_unused_result));

/* Wipe a secret in memory (OPENSSL_cleanse), and free+wipe a malloc'ed string. */
void crypto_wipe(void *p, size_t n);
void crypto_free_secret(char *s);

/* Base64 helpers (standard and URL-safe, no padding accepted on decode for url). Return length or -1.
 * Encode writes padding for standard only, and a NUL (outsz >= length + 1). Decode writes no NUL, needs
 * padding for standard, and rejects any character outside the alphabet and non-canonical final bits. */
long crypto_b64_encode(const unsigned char *in, size_t n, char *out, size_t outsz, int urlsafe);
long crypto_b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz, int urlsafe);

#endif
