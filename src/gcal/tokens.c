/* tokens.c: Google access tokens (cached sealed with their expiry, refreshed a minute early, one refresh and
 * one retry on a 401), what each kind of failure does to the user's connection and jobs (invalid_grant
 * pauses them until a reconnect, rate and quota errors back the whole user off), and revoking. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcal/internal.h"
#include "util/crypto.h"
#include "util/log.h"

/* Open the cached access token. 0 with g->access set, -1 when none or it does not open. */
static int
open_cached(struct gcal *g)
{
	char aad[64], *plain = NULL;
	size_t len;

	if (g->access_sealed == NULL || g->access_ttl_s <= LIMIT_GOOGLE_TOKEN_EARLY_S)
		return -1;
	gcal_aad(aad, sizeof(aad), GCAL_AAD_ACCESS, g->user_id);
	if (crypto_open(g->access_sealed, aad, &plain, &len) != 0) {
		/* A changed secret key or a tampered row: a refresh replaces it. */
		log_warn(g->ctx, "the cached Google access token of user %" PRId64 " does not open; refreshing",
		    g->user_id);
		return -1;
	}
	crypto_free_secret(g->access);
	g->access = plain;
	return 0;
}

/* The stored refresh token, opened (free with crypto_free_secret), or NULL with the reason in g->api.err. */
static char *
refresh_token(struct gcal *g)
{
	char uid[DB_I64_LEN], aad[64], *plain = NULL;
	PGresult *r;
	size_t len;

	memset(&g->api.err, 0, sizeof(g->api.err));
	if ((r = DB_EXEC(g->db, STMT_SECRET_GET, db_i64s(g->user_id, uid), GCAL_SECRET_REFRESH, "")) == NULL) {
		g->api.err.res = API_GOOGLE_NETWORK;
		snprintf(g->api.err.message, sizeof(g->api.err.message), "database: %s", g->db->err);
		return NULL;
	}
	gcal_aad(aad, sizeof(aad), GCAL_SECRET_REFRESH, g->user_id);
	if (PQntuples(r) != 1 || crypto_open(db_str(r, 0, 0), aad, &plain, &len) != 0) {
		g->api.err.res = API_GOOGLE_INVALID_GRANT;
		snprintf(g->api.err.reason, sizeof(g->api.err.reason), "invalid_grant");
		snprintf(g->api.err.message, sizeof(g->api.err.message), "%s",
		    PQntuples(r) != 1 ? "no refresh token is stored" : "the stored refresh token does not open");
		plain = NULL;
	}
	PQclear(r);
	return plain;
}

enum api_google_res
gcal_token_ensure(struct gcal *g, int force)
{
	struct api_google_token tok;
	enum api_google_res res;
	char aad[64], *rt;

	if (!force && g->access != NULL)
		return API_GOOGLE_OK;
	if (!force && open_cached(g) == 0)
		return API_GOOGLE_OK;
	if ((rt = refresh_token(g)) == NULL)
		return g->api.err.res;
	res = api_google_refresh(&g->api, rt, &tok);
	crypto_free_secret(rt);
	if (res != API_GOOGLE_OK)
		return res;
	free(g->fresh_sealed);
	g->fresh_sealed = NULL;
	gcal_aad(aad, sizeof(aad), GCAL_AAD_ACCESS, g->user_id);
	if (crypto_seal(tok.access_token, strlen(tok.access_token), aad, &g->fresh_sealed) != 0)
		g->fresh_sealed = NULL;   /* used, just not cached: the next job refreshes again */
	g->fresh_ttl_s = tok.expires_in;
	crypto_free_secret(g->access);
	g->access = tok.access_token;
	tok.access_token = NULL;
	api_google_token_free(&tok);
	g->access_sealed = NULL;
	log_debug(g->ctx, "refreshed the Google access token of user %" PRId64 " (%" PRId64 " s)", g->user_id,
	    g->fresh_ttl_s);
	return API_GOOGLE_OK;
}

int
gcal_token_persist(struct gcal *g)
{
	char uid[DB_I64_LEN], ttl[DB_I64_LEN];
	int rc;

	if (g->fresh_sealed == NULL)
		return 0;
	rc = DB_RUN(g->db, STMT_GOOGLE_TOKEN_STORE, db_i64s(g->user_id, uid), g->fresh_sealed,
	    db_i64s(g->fresh_ttl_s, ttl));
	free(g->fresh_sealed);
	g->fresh_sealed = NULL;
	if (rc != 0)
		log_warn(g->ctx, "storing the refreshed Google token: %s", g->db->err);
	return rc;
}

void
gcal_needs_reconnect(struct gcal *g, const char *detail)
{
	char uid[DB_I64_LEN];
	PGresult *r;

	db_i64s(g->user_id, uid);
	if (DB_RUN(g->db, STMT_GOOGLE_NEEDS_RECONNECT, uid, detail) != 0)
		log_error(g->ctx, "marking the Google connection of user %s for reconnect: %s", uid, g->db->err);
	if ((r = DB_EXEC(g->db, STMT_GOOGLE_PAUSE_JOBS, uid, "waiting for a Google reconnect")) == NULL) {
		log_error(g->ctx, "pausing the Google jobs of user %s: %s", uid, g->db->err);
		return;
	}
	log_warn(g->ctx, "Google connection of user %s needs a reconnect (%s); %s jobs paused", uid, detail,
	    db_str(r, 0, 0));
	PQclear(r);
}

void
gcal_uncount(struct gcal *g)
{
	char id[DB_I64_LEN];

	if (g->job_id <= 0 || g->owner == NULL)
		return;
	if (DB_RUN(g->db, STMT_GOOGLE_JOB_UNCOUNT, db_i64s(g->job_id, id), g->owner) == 0)
		g->uncounted = 1;
}

static enum api_google_res
dispatch(struct gcal *g, const struct gcal_call *c)
{
	switch (c->op) {
	case GCAL_OP_CALENDAR_INSERT:
		return api_google_calendar_insert(&g->api, g->access, c->body, c->out);
	case GCAL_OP_CALENDAR_GET:
		return api_google_calendar_get(&g->api, g->access, c->calendar_id, c->out);
	case GCAL_OP_CALENDAR_PATCH:
		return api_google_calendar_patch(&g->api, g->access, c->calendar_id, c->body, c->out);
	case GCAL_OP_CALENDAR_LIST:
		return api_google_calendar_list(&g->api, g->access, c->list ? c->list->page_token : NULL, c->out);
	case GCAL_OP_EVENT_INSERT:
		return api_google_event_insert(&g->api, g->access, c->calendar_id, c->body, c->out);
	case GCAL_OP_EVENT_GET:
		return api_google_event_get(&g->api, g->access, c->calendar_id, c->event_id, c->out);
	case GCAL_OP_EVENT_PATCH:
		return api_google_event_patch(&g->api, g->access, c->calendar_id, c->event_id, c->body, c->out);
	case GCAL_OP_EVENT_DELETE:
		return api_google_event_delete(&g->api, g->access, c->calendar_id, c->event_id);
	case GCAL_OP_EVENT_LIST:
		return api_google_event_list(&g->api, g->access, c->calendar_id, c->list, c->out);
	}
	memset(&g->api.err, 0, sizeof(g->api.err));
	g->api.err.res = API_GOOGLE_BAD_REQUEST;
	snprintf(g->api.err.message, sizeof(g->api.err.message), "unknown operation");
	return g->api.err.res;
}

enum api_google_res
gcal_api(struct gcal *g, const struct gcal_call *c)
{
	enum api_google_res res;

	if ((res = gcal_token_ensure(g, 0)) != API_GOOGLE_OK)
		return res;
	if ((res = dispatch(g, c)) != API_GOOGLE_AUTH)
		return res;
	/* The token was revoked or expired early: one refresh, one retry. */
	log_info(g->ctx, "Google answered 401 (%s); refreshing the token and retrying once", g->api.err.message);
	if ((res = gcal_token_ensure(g, 1)) != API_GOOGLE_OK)
		return res;
	return dispatch(g, c);
}

/* Back the user off: the wait doubles with the level, with jitter over its upper half. Returns seconds. */
static double
backoff(struct gcal *g, int level)
{
	char uid[DB_I64_LEN], secs[32], lvl[16], jit[32];
	double wait = LIMIT_GOOGLE_BACKOFF_BASE_S, until;
	PGresult *r;

	for (int i = 0; i < level && wait < LIMIT_GOOGLE_BACKOFF_MAX_S; i++)
		wait *= 2;
	if (wait > LIMIT_GOOGLE_BACKOFF_MAX_S)
		wait = LIMIT_GOOGLE_BACKOFF_MAX_S;
	wait = wait / 2 + crypto_rand01() * wait / 2;
	db_i64s(g->user_id, uid);
	snprintf(secs, sizeof(secs), "%.3f", wait);
	snprintf(lvl, sizeof(lvl), "%d", LIMIT_GOOGLE_BACKOFF_LEVEL_MAX);
	until = wait;
	if ((r = DB_EXEC(g->db, STMT_GOOGLE_BACKOFF_SET, uid, secs, lvl)) != NULL) {
		if (PQntuples(r) == 1 && !db_isnull(r, 0, 0))
			until = strtod(db_str(r, 0, 0), NULL);
		PQclear(r);
	} else
		log_error(g->ctx, "storing the Google backoff of user %s: %s", uid, g->db->err);
	/* The user's other jobs wait too, spread over a fifth of the wait so they do not return as one burst. */
	snprintf(secs, sizeof(secs), "%.3f", until);
	snprintf(jit, sizeof(jit), "%.3f", until / 5 + 0.1);
	if (DB_RUN(g->db, STMT_GOOGLE_JOBS_DEFER, uid, secs, jit) != 0)
		log_error(g->ctx, "deferring the Google jobs of user %s: %s", uid, g->db->err);
	return until;
}

enum gcal_result
gcal_api_failure(struct gcal *g, const char *what, int backoff_level)
{
	const struct api_google_error *e = &g->api.err;
	char detail[LIMIT_GOOGLE_ERROR_TEXT + 200];
	double wait;

	switch (e->res) {
	case API_GOOGLE_OK:
		return GCAL_OK;
	case API_GOOGLE_RATE:
		wait = backoff(g, backoff_level);
		gcal_uncount(g);
		g->retry_after_s = wait + crypto_rand01() * (wait / 5 + 0.1);
		gcal_error(g, "%s: Google rate limit (%ld %s): every Google sync of this user waits %.1f s", what,
		    e->status, e->reason[0] ? e->reason : e->message, wait);
		return GCAL_RETRY;
	case API_GOOGLE_INVALID_GRANT:
		snprintf(detail, sizeof(detail), "Google no longer accepts timebridge's authorization (%s: %s). "
		    "Reconnect Google to resume mirroring.", e->reason[0] ? e->reason : "invalid_grant", e->message);
		gcal_needs_reconnect(g, detail);
		gcal_error(g, "%s: %s", what, detail);
		return GCAL_PAUSE;
	case API_GOOGLE_FORBIDDEN:
		snprintf(detail, sizeof(detail), "Google refused access (%s: %s). Reconnect Google and grant "
		    "timebridge access to the calendars it creates.", e->reason, e->message);
		gcal_needs_reconnect(g, detail);
		gcal_error(g, "%s: %s", what, detail);
		return GCAL_PAUSE;
	case API_GOOGLE_BAD_REQUEST:
		gcal_error(g, "%s: Google rejected the request (%ld %s): %s", what, e->status, e->reason, e->message);
		return GCAL_FATAL;
	case API_GOOGLE_INVALID_CLIENT:
		gcal_error(g, "%s: Google rejected timebridge's OAuth client (%s: %s): check GOOGLE_CLIENT_ID and "
		    "GOOGLE_CLIENT_SECRET", what, e->reason, e->message);
		return GCAL_RETRY;
	case API_GOOGLE_AUTH:
		gcal_error(g, "%s: Google still answers 401 after a token refresh: %s", what, e->message);
		return GCAL_RETRY;
	default:
		gcal_error(g, "%s: %s (HTTP %ld%s%s): %s", what, api_google_res_name(e->res), e->status,
		    e->reason[0] ? " " : "", e->reason, e->message);
		return GCAL_RETRY;
	}
}

enum gcal_result
gcal_revoke(struct gcal *g)
{
	enum gcal_result res = GCAL_RETRY;
	enum api_google_res ar;
	PGresult *acct = NULL, *r = NULL;
	char uid[DB_I64_LEN], *rt = NULL;
	int found;

	if ((found = gcal_account_load(g, &acct)) <= 0)
		return found == 0 ? GCAL_OK : GCAL_RETRY;
	if (strcmp(db_str(acct, 0, GA_STATUS), "disconnecting") != 0) {
		log_info(g->ctx, "user %" PRId64 " reconnected Google before the revoke ran: nothing revoked",
		    g->user_id);
		res = GCAL_OK;
		goto out;
	}
	/* Revoking the refresh token ends the whole grant, access tokens included. */
	if ((rt = refresh_token(g)) != NULL)
		ar = api_google_revoke(&g->api, rt);
	else if (open_cached(g) == 0)
		ar = api_google_revoke(&g->api, g->access);
	else
		ar = API_GOOGLE_INVALID_GRANT;   /* nothing we could revoke is left */
	switch (ar) {
	case API_GOOGLE_OK:
		log_info(g->ctx, "revoked the Google grant of user %" PRId64, g->user_id);
		break;
	case API_GOOGLE_INVALID_GRANT:
	case API_GOOGLE_BAD_REQUEST:
		/* 400 invalid_token: revoked already, expired, or never valid. Nothing more to do at Google. */
		log_info(g->ctx, "the Google token of user %" PRId64 " was already invalid (%s)", g->user_id,
		    g->api.err.message);
		break;
	default:
		gcal_error(g, "revoking at Google: %s (HTTP %ld): %s", api_google_res_name(ar), g->api.err.status,
		    g->api.err.message);
		goto out;
	}
	if (db_begin(g->db) != 0) {
		gcal_error(g, "begin: %s", g->db->err);
		goto out;
	}
	if ((r = DB_EXEC(g->db, STMT_GOOGLE_FORGET, db_i64s(g->user_id, uid))) == NULL) {
		gcal_error(g, "deleting the Google connection: %s", g->db->err);
		db_rollback(g->db);
		goto out;
	}
	log_info(g->ctx, "Google connection of user %s %s", uid,
	    PQntuples(r) ? "deleted" : "kept: reconnected meanwhile");
	res = GCAL_OK;   /* the caller commits with the done mark */
out:
	crypto_free_secret(rt);
	if (r != NULL)
		PQclear(r);
	g->access_sealed = NULL;
	PQclear(acct);
	return res;
}
