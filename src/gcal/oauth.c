/* oauth.c: Google consent, the web side. A state (single use, bound to the session that asked, good for
 * LIMIT_GOOGLE_STATE_S) and a PKCE verifier (S256) per authorization; both stored hashed or sealed. The
 * callback's code exchange is the only Google call made on a web request. Called from FastCGI threads:
 * everything lives in the arguments. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_client.h"
#include "gcal/internal.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/log.h"

#define HASH_LEN (2 * CRYPTO_SHA256_LEN + 1)

void
gcal_redirect_uri(struct buf *out)
{
	buf_puts(out, config_get()->public_url);
	buf_puts(out, "/oauth/google/callback");
}

static void
query_add(struct buf *u, const char *key, const char *val)
{
	buf_putc(u, strchr(u->data ? u->data : "", '?') ? '&' : '?');
	buf_puts(u, key);
	buf_putc(u, '=');
	http_escape(u, val);
}

int
gcal_oauth_start(struct db *db, const char *session_id, int64_t user_id, struct buf *url, char *err, size_t errsz)
{
	const struct config *cfg = config_get();
	char state[64], verifier[64], challenge[64], state_hash[HASH_LEN], session_hash[HASH_LEN], aad[128];
	char uid[DB_I64_LEN], keep[16];
	unsigned char digest[CRYPTO_SHA256_LEN];
	struct buf redirect = BUF_INIT;
	char *sealed = NULL;
	int rc = -1;

	if (cfg->google_client_id == NULL || *cfg->google_client_id == '\0') {
		snprintf(err, errsz, "Google is not configured on this server (GOOGLE_CLIENT_ID is not set)");
		goto out;
	}
	if (session_id == NULL) {
		snprintf(err, errsz, "no session");
		goto out;
	}
	/* 32 random bytes each: 43 URL-safe characters, which is also PKCE's minimum verifier length. */
	if (crypto_token(state, sizeof(state), LIMIT_TOKEN_BYTES) != 0 ||
	    crypto_token(verifier, sizeof(verifier), LIMIT_TOKEN_BYTES) != 0) {
		snprintf(err, errsz, "no randomness");
		goto out;
	}
	crypto_sha256(verifier, strlen(verifier), digest);
	if (crypto_b64_encode(digest, sizeof(digest), challenge, sizeof(challenge), 1) < 0) {
		snprintf(err, errsz, "encoding the PKCE challenge");
		goto out;
	}
	crypto_token_hash(state, state_hash);
	crypto_token_hash(session_id, session_hash);
	snprintf(aad, sizeof(aad), "%s:%s", GCAL_AAD_VERIFIER, state_hash);
	if (crypto_seal(verifier, strlen(verifier), aad, &sealed) != 0) {
		snprintf(err, errsz, "sealing the PKCE verifier");
		goto out;
	}
	snprintf(keep, sizeof(keep), "%d", LIMIT_GOOGLE_STATE_KEEP_S);
	if (DB_RUN(db, STMT_GOOGLE_STATE_PURGE, keep) != 0 ||
	    DB_RUN(db, STMT_GOOGLE_STATE_INSERT, state_hash, session_hash, db_i64s(user_id, uid), sealed) != 0) {
		snprintf(err, errsz, "database: %s", db->err);
		goto out;
	}
	gcal_redirect_uri(&redirect);
	buf_puts(url, cfg->google_auth_url);
	query_add(url, "client_id", cfg->google_client_id);
	query_add(url, "redirect_uri", redirect.data);
	query_add(url, "response_type", "code");
	query_add(url, "scope", API_GOOGLE_SCOPE);
	query_add(url, "access_type", "offline");
	query_add(url, "prompt", "consent");
	query_add(url, "include_granted_scopes", "true");
	query_add(url, "state", state);
	query_add(url, "code_challenge", challenge);
	query_add(url, "code_challenge_method", "S256");
	if (url->oom || redirect.oom) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	crypto_wipe(state, sizeof(state));
	crypto_wipe(verifier, sizeof(verifier));
	free(sealed);
	buf_free(&redirect);
	return rc;
}

enum gcal_state_check
gcal_oauth_take_state(struct db *db, const char *session_id, int64_t user_id, const char *state, char **verifier)
{
	char state_hash[HASH_LEN], session_hash[HASH_LEN], aad[128], secs[16];
	enum gcal_state_check rc = GCAL_STATE_UNKNOWN;
	const char *stored;
	PGresult *r;
	size_t len;

	*verifier = NULL;
	if (state == NULL || *state == '\0' || strlen(state) > LIMIT_GOOGLE_STATE_PARAM_MAX || session_id == NULL)
		return GCAL_STATE_UNKNOWN;
	crypto_token_hash(state, state_hash);
	snprintf(secs, sizeof(secs), "%d", LIMIT_GOOGLE_STATE_S);
	/* Deleted whatever comes next: a state is good for one try only, even a failed one. */
	if ((r = DB_EXEC(db, STMT_GOOGLE_STATE_TAKE, state_hash, secs)) == NULL)
		return GCAL_STATE_DB_ERROR;
	if (PQntuples(r) != 1)
		goto out;
	crypto_token_hash(session_id, session_hash);
	stored = db_str(r, 0, 0);
	if (!crypto_eq(stored, strlen(stored), session_hash, strlen(session_hash)) || db_i64(r, 0, 1) != user_id) {
		rc = GCAL_STATE_MISMATCH;
		goto out;
	}
	if (!db_bool(r, 0, 3)) {
		rc = GCAL_STATE_EXPIRED;
		goto out;
	}
	snprintf(aad, sizeof(aad), "%s:%s", GCAL_AAD_VERIFIER, state_hash);
	if (crypto_open(db_str(r, 0, 2), aad, verifier, &len) != 0) {
		*verifier = NULL;
		rc = GCAL_STATE_MISMATCH;
		goto out;
	}
	rc = GCAL_STATE_OK;
out:
	PQclear(r);
	return rc;
}

/* The refresh token already stored for the user: 1 yes, 0 no, -1 error. */
static int
have_refresh(struct db *db, int64_t user_id)
{
	char uid[DB_I64_LEN];
	PGresult *r = DB_EXEC(db, STMT_SECRET_GET, db_i64s(user_id, uid), GCAL_SECRET_REFRESH, "");
	int n;

	if (r == NULL)
		return -1;
	n = PQntuples(r) == 1;
	PQclear(r);
	return n;
}

enum gcal_connect
gcal_oauth_connect(struct db *db, struct http_client *http, const char *log_ctx, int64_t user_id,
    const char *code, const char *verifier, char *scopes, size_t scopessz, char *err, size_t errsz)
{
	enum gcal_connect rc = GCAL_CONNECT_ERROR;
	struct api_google api;
	struct api_google_token tok;
	struct buf redirect = BUF_INIT;
	char uid[DB_I64_LEN], ttl[DB_I64_LEN], aad[64], detail[1200];
	char *access_sealed = NULL, *refresh_sealed = NULL, *audit = NULL;
	enum api_google_res ar;
	const char *granted;
	json_t *jaudit;
	int full, have;
	PGresult *r = NULL;

	memset(&api, 0, sizeof(api));
	memset(&tok, 0, sizeof(tok));
	api.http = http;
	api.log_ctx = log_ctx;
	scopes[0] = '\0';
	gcal_redirect_uri(&redirect);
	ar = api_google_exchange_code(&api, code, verifier, redirect.data ? redirect.data : "", &tok);
	if (ar != API_GOOGLE_OK) {
		snprintf(err, errsz, "%s%s%s", api.err.reason, api.err.reason[0] ? ": " : "", api.err.message);
		log_warn(log_ctx, "Google code exchange for user %" PRId64 " failed: %s (HTTP %ld): %s", user_id,
		    api_google_res_name(ar), api.err.status, err);
		rc = ar == API_GOOGLE_SERVER || ar == API_GOOGLE_NETWORK || ar == API_GOOGLE_RATE ||
		    ar == API_GOOGLE_BAD_ANSWER ? GCAL_CONNECT_UNAVAILABLE : GCAL_CONNECT_REFUSED;
		goto out;
	}
	/* RFC 6749 5.1: no scope in the answer means the scope asked for. */
	granted = tok.scope && *tok.scope ? tok.scope : API_GOOGLE_SCOPE;
	snprintf(scopes, scopessz, "%s", granted);
	full = api_google_has_scope(granted, API_GOOGLE_SCOPE);
	db_i64s(user_id, uid);
	if (tok.refresh_token == NULL) {
		/* Google sends one only with new offline consent; prompt=consent asks for it every time, but an
		 * earlier one still stored keeps working. */
		if ((have = have_refresh(db, user_id)) <= 0) {
			snprintf(err, errsz, have < 0 ? "database: %s" : "Google gave no refresh token (offline access)%s",
			    have < 0 ? db->err : "");
			rc = have < 0 ? GCAL_CONNECT_ERROR : GCAL_CONNECT_NO_REFRESH;
			goto out;
		}
	} else {
		gcal_aad(aad, sizeof(aad), GCAL_SECRET_REFRESH, user_id);
		if (crypto_seal(tok.refresh_token, strlen(tok.refresh_token), aad, &refresh_sealed) != 0) {
			snprintf(err, errsz, "sealing the refresh token");
			goto out;
		}
	}
	gcal_aad(aad, sizeof(aad), GCAL_AAD_ACCESS, user_id);
	if (crypto_seal(tok.access_token, strlen(tok.access_token), aad, &access_sealed) != 0) {
		snprintf(err, errsz, "sealing the access token");
		goto out;
	}
	snprintf(detail, sizeof(detail), "Google granted only: %s. timebridge needs permission to create a calendar "
	    "and manage its events (%s). Reconnect and leave that permission ticked.", granted, API_GOOGLE_SCOPE);
	if ((jaudit = json_pack("{s:s, s:b}", "scopes", granted, "full", full)) != NULL)
		audit = json_dumps(jaudit, JSON_COMPACT);
	json_decref(jaudit);
	if (db_begin(db) != 0 ||
	    (r = DB_EXEC(db, STMT_GOOGLE_ACCOUNT_CONNECT, uid, granted, access_sealed,
	        db_i64s(tok.expires_in, ttl), full ? "ok" : "needs_reconnect", full ? NULL : detail)) == NULL ||
	    (refresh_sealed != NULL &&
	        DB_RUN(db, STMT_SECRET_PUT, uid, GCAL_SECRET_REFRESH, "", refresh_sealed) != 0) ||
	    (full && DB_RUN(db, STMT_JOB_RESUME_USER, uid, "google.%") != 0) ||
	    (full && gcal_calendar_queue(db, user_id, NULL) != 0) ||
	    DB_RUN(db, STMT_AUDIT_INSERT, uid, "google.connect", audit ? audit : "{}", NULL) != 0 ||
	    db_commit(db) != 0) {
		snprintf(err, errsz, "database: %s", db->err);
		db_rollback(db);
		goto out;
	}
	log_info(log_ctx, "user %s connected Google (scopes: %s)%s", uid, granted,
	    full ? "" : "; fewer scopes than needed: marked needs_reconnect");
	rc = full ? GCAL_CONNECT_OK : GCAL_CONNECT_FEWER_SCOPES;
out:
	if (r != NULL)
		PQclear(r);
	free(audit);
	free(access_sealed);
	free(refresh_sealed);
	api_google_token_free(&tok);
	buf_free(&redirect);
	return rc;
}

int
gcal_disconnect(struct db *db, int64_t user_id)
{
	char uid[DB_I64_LEN];
	PGresult *r = NULL;
	int rc = -1;

	db_i64s(user_id, uid);
	if (db_begin(db) != 0)
		return -1;
	if ((r = DB_EXEC(db, STMT_GOOGLE_ACCOUNT_DISCONNECT, uid)) == NULL)
		goto fail;
	if (PQntuples(r) == 0) {
		rc = 0;
		goto fail;   /* not connected: nothing to do */
	}
	if (db_job_enqueue(db, "google.revoke", "{}", user_id, uid, 0) < 0 ||
	    DB_RUN(db, STMT_AUDIT_INSERT, uid, "google.disconnect", "{}", NULL) != 0 || db_commit(db) != 0)
		goto fail;
	PQclear(r);
	return 1;
fail:
	if (r != NULL)
		PQclear(r);
	db_rollback(db);
	return rc;
}
