/* session.c: login sessions (database rows found by the hash of a random id), CSRF tokens bound to the
 * session, and API-token authentication. Every secret comparison is constant time. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"

#define CSRF_PRE_COOKIE "tb_csrf"   /* binds the CSRF token of forms shown before login */

/* CSRF token: base64url(HMAC(csrf key, binding)), where binding is the session id or the pre-login
 * cookie. Stateless, so it costs no database write. */
static const char *
csrf_for(struct req *r, const char *binding)
{
	unsigned char mac[CRYPTO_SHA256_LEN];
	char *out;

	if ((out = arena_alloc(&r->arena, 64)) == NULL)
		return NULL;
	crypto_hmac_sha256(crypto_key(CRYPTO_KEY_CSRF), CRYPTO_KEY_LEN, binding, strlen(binding), mac);
	if (crypto_b64_encode(mac, sizeof(mac), out, 64, 1) < 0)
		return NULL;
	return out;
}

/* The CSRF token for forms on this page; before login it is bound to a random cookie set here. */
const char *
session_csrf_token(struct req *r)
{
	const char *pre;
	char tok[64];

	if (r->csrf)
		return r->csrf;
	if (r->session_id)
		return r->csrf = csrf_for(r, r->session_id);
	if ((pre = req_cookie(r, CSRF_PRE_COOKIE)) == NULL || strlen(pre) < 20) {
		if (crypto_token(tok, sizeof(tok), LIMIT_TOKEN_BYTES) != 0)
			return NULL;
		pre = arena_strdup(&r->arena, tok);
		resp_cookie(r, CSRF_PRE_COOKIE, pre, LIMIT_SESSION_ABSOLUTE_S, 1);
	}
	return r->csrf = csrf_for(r, pre);
}

int
session_csrf_ok(struct req *r)
{
	const char *sent = req_form(r, "csrf"), *binding, *want;

	if (sent == NULL)
		sent = req_header(r, "X-CSRF-Token");
	binding = r->session_id ? r->session_id : req_cookie(r, CSRF_PRE_COOKIE);
	if (sent == NULL || binding == NULL || (want = csrf_for(r, binding)) == NULL)
		return 0;
	return crypto_eq(sent, strlen(sent), want, strlen(want));
}

int
session_create(struct req *r, int64_t user_id)
{
	char tok[64], hash[2 * CRYPTO_SHA256_LEN + 1], uid[DB_I64_LEN], ttl[16];
	const char *old = req_cookie(r, SESSION_COOKIE);

	/* Rotation: whatever session this browser had is gone; the new id is fresh randomness. */
	if (old) {
		crypto_token_hash(old, hash);
		if (DB_RUN(r->db, STMT_SESSION_DELETE, hash) != 0)
			return -1;
	}
	if (crypto_token(tok, sizeof(tok), LIMIT_TOKEN_BYTES) != 0)
		return -1;
	crypto_token_hash(tok, hash);
	snprintf(ttl, sizeof(ttl), "%d", LIMIT_SESSION_ABSOLUTE_S);
	if (DB_RUN(r->db, STMT_SESSION_INSERT, hash, db_i64s(user_id, uid), ttl, r->remote_addr) != 0) {
		crypto_wipe(tok, sizeof(tok));
		return -1;
	}
	resp_cookie(r, SESSION_COOKIE, tok, LIMIT_SESSION_ABSOLUTE_S, 1);
	r->session_id = arena_strdup(&r->arena, tok);
	r->csrf = NULL;
	crypto_wipe(tok, sizeof(tok));
	return 0;
}

void
session_destroy(struct req *r)
{
	char hash[2 * CRYPTO_SHA256_LEN + 1];
	const char *id = req_cookie(r, SESSION_COOKIE);

	if (id) {
		crypto_token_hash(id, hash);
		if (DB_RUN(r->db, STMT_SESSION_DELETE, hash) != 0)
			log_warn(r->id, "logout: %s", r->db->err);
	}
	resp_cookie(r, SESSION_COOKIE, "", 0, 1);
	r->session_id = NULL;
	r->authed = 0;
}

int
session_load(struct req *r)
{
	char hash[2 * CRYPTO_SHA256_LEN + 1], idle[16];
	const char *id = req_cookie(r, SESSION_COOKIE);
	PGresult *res;

	if (id == NULL || strlen(id) < 20 || strlen(id) > 128)
		return 0;
	/* Looking up by an HMAC of the id: equality on a keyed hash leaks nothing useful through timing. */
	crypto_token_hash(id, hash);
	snprintf(idle, sizeof(idle), "%d", LIMIT_SESSION_IDLE_S);
	if ((res = DB_EXEC(r->db, STMT_SESSION_GET, hash, idle)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	r->user.id = db_i64(res, 0, 0);
	r->user.email = arena_strdup(&r->arena, db_str(res, 0, 1));
	r->user.is_admin = db_bool(res, 0, 2);
	r->user.time_zone = arena_strdup(&r->arena, db_str(res, 0, 3));
	r->authed = 1;
	r->session_id = id;
	PQclear(res);
	return 1;
}

int
token_auth(struct req *r)
{
	char hash[2 * CRYPTO_SHA256_LEN + 1], tid[DB_I64_LEN];
	const char *auth = req_header(r, "Authorization"), *token = NULL, *email = NULL;
	unsigned char dec[512];
	PGresult *res;
	long n;
	int rc = 0;

	if (auth == NULL)
		return 0;
	if (strncasecmp(auth, "Bearer ", 7) == 0) {
		token = auth + 7;
		while (*token == ' ')
			token++;
	} else if (strncasecmp(auth, "Basic ", 6) == 0) {
		/* Grafana's basic auth: the email as user name, an API token as the password. */
		char *colon;
		n = crypto_b64_decode(auth + 6, strlen(auth + 6), dec, sizeof(dec) - 1, 0);
		if (n <= 0)
			return 0;
		dec[n] = '\0';
		if ((colon = strchr((char *)dec, ':')) == NULL)
			goto out;
		*colon = '\0';
		email = (const char *)dec;
		token = colon + 1;
	} else
		return 0;
	if (*token == '\0' || strlen(token) > 256)
		goto out;
	crypto_token_hash(token, hash);
	if ((res = DB_EXEC(r->db, STMT_TOKEN_LOOKUP, hash)) == NULL) {
		rc = -1;
		goto out;
	}
	if (PQntuples(res) == 1 && (email == NULL || strcasecmp(email, db_str(res, 0, 1)) == 0)) {
		r->user.id = db_i64(res, 0, 0);
		r->user.email = arena_strdup(&r->arena, db_str(res, 0, 1));
		r->user.is_admin = db_bool(res, 0, 2);
		r->user.time_zone = arena_strdup(&r->arena, db_str(res, 0, 3));
		r->token_id = db_i64(res, 0, 4);
		r->authed = 1;
		rc = 1;
		/* last_used_at is refreshed at most once a minute: reads stay reads. */
		if (db_bool(res, 0, 5) && DB_RUN(r->db, STMT_TOKEN_TOUCH, db_i64s(r->token_id, tid)) != 0)
			log_warn(r->id, "token touch: %s", r->db->err);
	}
	PQclear(res);
out:
	crypto_wipe(dec, sizeof(dec));
	return rc;
}
