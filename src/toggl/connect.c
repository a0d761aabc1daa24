/* connect.c: connecting a user's Toggl account (verify the token with GET /me, keep it sealed, record the
 * account, fetch the metadata, schedule the reconciliation), and the struct toggl_sync every outbound
 * Toggl operation runs in: the stored token opened, quota budgets seeded and persisted, and the mapping of
 * the client's answers to what a job or the CLI should do (a 403 marks the account invalid_token). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/http_client.h"
#include "db/db.h"
#include "toggl/toggl.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/tbtime.h"

#define TOKEN_PAGE "https://track.toggl.com/profile"

static void
aad_token(int64_t user_id, char *out, size_t n)
{
	snprintf(out, n, "toggl_token:%" PRId64, user_id);
}

/* Persist a budget the client saw; informative, so a failure is only logged. */
static void
on_quota(void *arg, const struct api_toggl_bucket *b)
{
	struct toggl_sync *s = arg;
	char uid[DB_I64_LEN], org[DB_I64_LEN], rem[DB_I64_LEN], at[DB_I64_LEN];
	long r = b->remaining;

	if (s->db == NULL || s->db->in_tx)
		return;
	if (r > 2147483647L)
		r = 2147483647L;
	if (r < -2147483647L)
		r = -2147483647L;
	if (DB_RUN(s->db, STMT_TOGGL_QUOTA_PUT, db_i64s(s->user_id, uid), b->name,
	        b->organization_id > 0 ? db_i64s(b->organization_id, org) : NULL, db_i64s(r, rem),
	        db_i64s(b->resets_at_ms, at)) != 0)
		log_warn(s->ctx, "toggl: storing the quota of %s: %s", b->name, s->db->err);
}

static int
on_wait(void *arg, const char *why, double seconds)
{
	struct toggl_sync *s = arg;

	return s->on_wait != NULL ? s->on_wait(s->hook_arg, why, seconds) : 0;
}

/* Load the account row and the quota budgets into s (the client must be set up). */
static int
load_account(struct toggl_sync *s)
{
	char uid[DB_I64_LEN];
	struct api_toggl_bucket b;
	PGresult *r;

	db_i64s(s->user_id, uid);
	if ((r = DB_EXEC(s->db, STMT_TOGGL_ACCOUNT_GET, uid)) == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		s->connected = 1;
		s->toggl_user_id = db_i64(r, 0, 0);
		s->invalid_token = db_str(r, 0, 6) != NULL && strcmp(db_str(r, 0, 6), "invalid_token") == 0;
		snprintf(s->status_detail, sizeof(s->status_detail), "%s", db_str(r, 0, 7) ? db_str(r, 0, 7) : "");
		s->loaded_strikes = (int)db_i64(r, 0, 12);
		s->rate_wait_s = db_str(r, 0, 13) ? strtod(db_str(r, 0, 13), NULL) : 0;
	}
	PQclear(r);
	if (s->api_ready) {
		s->api.rate_strikes = s->loaded_strikes;
		if ((r = DB_EXEC(s->db, STMT_TOGGL_QUOTA_LIST, uid)) == NULL)
			return -1;
		for (int i = 0; i < PQntuples(r); i++) {
			memset(&b, 0, sizeof(b));
			snprintf(b.name, sizeof(b.name), "%s", db_str(r, i, 0));
			b.organization_id = db_i64(r, i, 1);
			b.remaining = (long)db_i64(r, i, 2);
			b.resets_at_ms = db_i64(r, i, 3);
			api_toggl_seed_bucket(&s->api, &b);
		}
		PQclear(r);
		if ((r = DB_EXEC(s->db, STMT_TOGGL_WORKSPACES_OF_USER, uid)) == NULL)
			return -1;
		for (int i = 0; i < PQntuples(r); i++)
			api_toggl_set_org(&s->api, db_i64(r, i, 0), db_i64(r, i, 1));
		PQclear(r);
	}
	return 0;
}

static enum toggl_rc
open_with(struct toggl_sync *s, struct http_client *http, const char *token, double max_wait_s)
{
	if (api_toggl_init(&s->api, http, config_get()->toggl_url, token) != 0) {
		snprintf(s->err, sizeof(s->err), "that is not a Toggl API token (1 to %d printable characters, no "
		    "blanks or colons): copy it from %s", LIMIT_TOGGL_TOKEN_MAX, TOKEN_PAGE);
		return TOGGL_FATAL;
	}
	s->api_ready = 1;
	s->api.log_ctx = s->ctx;
	s->api.max_wait_s = max_wait_s;
	s->api.on_quota = on_quota;
	s->api.on_wait = on_wait;
	s->api.hook_arg = s;
	if (load_account(s) != 0) {
		snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
		s->retry_after_s = 0;
		return TOGGL_RETRY;
	}
	return TOGGL_OK;
}

enum toggl_rc
toggl_sync_open_token(struct toggl_sync *s, struct db *db, struct http_client *http, int64_t user_id,
    const char *token, const char *ctx, double max_wait_s)
{
	memset(s, 0, sizeof(*s));
	s->db = db;
	s->user_id = user_id;
	s->ctx = ctx;
	return open_with(s, http, token, max_wait_s);
}

enum toggl_rc
toggl_sync_open(struct toggl_sync *s, struct db *db, struct http_client *http, int64_t user_id, const char *ctx,
    double max_wait_s)
{
	char uid[DB_I64_LEN], aad[64];
	char *token = NULL;
	size_t len = 0;
	enum toggl_rc rc;
	PGresult *r;

	memset(s, 0, sizeof(*s));
	s->db = db;
	s->user_id = user_id;
	s->ctx = ctx;
	if ((r = DB_EXEC(db, STMT_SECRET_GET, db_i64s(user_id, uid), "toggl_token", "")) == NULL) {
		snprintf(s->err, sizeof(s->err), "database: %s", db->err);
		return TOGGL_RETRY;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(s->err, sizeof(s->err), "no Toggl API token is stored for this user: connect Toggl first");
		return TOGGL_NOTFOUND;
	}
	aad_token(user_id, aad, sizeof(aad));
	if (crypto_open(db_str(r, 0, 0), aad, &token, &len) != 0) {
		PQclear(r);
		snprintf(s->err, sizeof(s->err), "the stored Toggl token cannot be decrypted (was TIMEBRIDGE_SECRET_KEY "
		    "changed?): set the token again");
		return TOGGL_FATAL;
	}
	PQclear(r);
	rc = open_with(s, http, token, max_wait_s);
	crypto_free_secret(token);
	return rc;
}

void
toggl_sync_close(struct toggl_sync *s)
{
	char uid[DB_I64_LEN];

	/* A 429 streak that ended in a success is over: the next backoff starts from the minimum again. */
	if (s->api_ready && s->loaded_strikes > 0 && s->api.rate_strikes == 0 && s->api.requests > 0 &&
	    s->api.res == API_TOGGL_OK && DB_RUN(s->db, STMT_TOGGL_ACCOUNT_SET_RATE, db_i64s(s->user_id, uid), "0",
	        "0") != 0)
		log_warn(s->ctx, "toggl: clearing the 429 streak: %s", s->db->err);
	if (s->api_ready)
		api_toggl_free(&s->api);
	s->api_ready = 0;
}

static double
sleep_s(double sec)
{
	struct timespec ts;

	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return sec;
}

enum toggl_rc
toggl_sync_require(struct toggl_sync *s)
{
	char why[256];

	if (!s->connected) {
		snprintf(s->err, sizeof(s->err), "Toggl is not connected for this user: connect it first");
		return TOGGL_NOTFOUND;
	}
	if (s->invalid_token) {
		snprintf(s->err, sizeof(s->err), "Toggl refuses the stored API token: %s",
		    s->status_detail[0] ? s->status_detail : "set the current token from " TOKEN_PAGE);
		return TOGGL_AUTH;
	}
	if (s->rate_wait_s > 0) {
		/* A 429 seen by an earlier run: its backoff applies to every call of this token. */
		if (s->rate_wait_s > s->api.max_wait_s) {
			snprintf(s->err, sizeof(s->err), "Toggl rate limit (429): backing off, %.0f s left", s->rate_wait_s);
			s->retry_after_s = s->rate_wait_s;
			s->quota_wait = 1;
			return TOGGL_RETRY;
		}
		snprintf(why, sizeof(why), "Toggl rate limit (429) seen earlier: waiting %.0f s more", s->rate_wait_s);
		log_info(s->ctx, "%s", why);
		if (on_wait(s, why, s->rate_wait_s) != 0) {
			snprintf(s->err, sizeof(s->err), "%s", why);
			s->retry_after_s = s->rate_wait_s;
			return TOGGL_RETRY;
		}
		sleep_s(s->rate_wait_s);
		s->rate_wait_s = 0;
	}
	return TOGGL_OK;
}

static void
mark_invalid(struct toggl_sync *s, const char *answer)
{
	char uid[DB_I64_LEN], when[TB_RFC3339_SIZE];

	(void)tb_format_rfc3339(tb_now_ms() / 1000, when);
	snprintf(s->status_detail, sizeof(s->status_detail),
	    "Toggl refused the API token on %s (%s): it is wrong, was reset, or lost access. Set the current "
	    "token from " TOKEN_PAGE ".", when, answer);
	s->invalid_token = 1;
	if (s->connected && DB_RUN(s->db, STMT_TOGGL_ACCOUNT_SET_STATUS, db_i64s(s->user_id, uid), "invalid_token",
	        s->status_detail) != 0)
		log_error(s->ctx, "toggl: marking the token invalid: %s", s->db->err);
	log_warn(s->ctx, "toggl: user %" PRId64 ": %s", s->user_id, s->status_detail);
}

enum toggl_rc
toggl_sync_fail(struct toggl_sync *s, const char *what)
{
	char uid[DB_I64_LEN], wait[32], strikes[16], first[sizeof(s->api.err)];
	json_t *me = NULL;
	enum api_toggl_res r = s->api.res;

	s->retry_after_s = 0;
	s->quota_wait = 0;
	switch (r) {
	case API_TOGGL_OK:
		return TOGGL_OK;
	case API_TOGGL_QUOTA:
		snprintf(s->err, sizeof(s->err), "%s: the Toggl quota is used up (%s); it resets in %.0f s", what,
		    s->api.err, s->api.retry_after_s);
		s->retry_after_s = s->api.retry_after_s;
		s->quota_wait = 1;
		return TOGGL_RETRY;
	case API_TOGGL_RATE:
		snprintf(s->err, sizeof(s->err), "%s: Toggl rate limit (%s); backing off %.0f s", what, s->api.err,
		    s->api.retry_after_s);
		s->retry_after_s = s->api.retry_after_s;
		s->quota_wait = 1;
		snprintf(wait, sizeof(wait), "%.3f", s->api.retry_after_s);
		snprintf(strikes, sizeof(strikes), "%d", s->api.rate_strikes);
		if (DB_RUN(s->db, STMT_TOGGL_ACCOUNT_SET_RATE, db_i64s(s->user_id, uid), wait, strikes) != 0)
			log_warn(s->ctx, "toggl: storing the 429 backoff: %s", s->db->err);
		return TOGGL_RETRY;
	case API_TOGGL_UNAVAILABLE:
		snprintf(s->err, sizeof(s->err), "%s: Toggl is unavailable (%s); retrying in %.0f s", what, s->api.err,
		    s->api.retry_after_s);
		s->retry_after_s = s->api.retry_after_s;
		return TOGGL_RETRY;
	case API_TOGGL_AUTH:
		snprintf(first, sizeof(first), "%s", s->api.err);
		/* A 403 on a workspace can mean only that workspace is out of reach: ask /me whether the token
		 * itself still works before calling it broken. */
		if (!s->api.user_scoped) {
			if (api_toggl_me(&s->api, &me) == API_TOGGL_OK) {
				json_decref(me);
				snprintf(s->err, sizeof(s->err), "%s: Toggl refused access (%s); the token works, so this "
				    "user lacks access to that workspace", what, first);
				return TOGGL_FATAL;
			}
			if (s->api.res != API_TOGGL_AUTH)
				return toggl_sync_fail(s, what);
		}
		mark_invalid(s, first);
		snprintf(s->err, sizeof(s->err), "%s: %s", what, s->status_detail);
		return TOGGL_AUTH;
	case API_TOGGL_PAID:
		snprintf(s->err, sizeof(s->err), "%s: not available on this Toggl plan (%s); it needs a paid plan, "
		    "so it is not retried", what, s->api.err);
		return TOGGL_FATAL;
	case API_TOGGL_NOT_FOUND:
		snprintf(s->err, sizeof(s->err), "%s: not found at Toggl (%s)", what, s->api.err);
		return TOGGL_NOTFOUND;
	case API_TOGGL_GONE:
		snprintf(s->err, sizeof(s->err), "%s: Toggl retired this endpoint (%s)", what, s->api.err);
		return TOGGL_FATAL;
	case API_TOGGL_REJECTED:
		snprintf(s->err, sizeof(s->err), "%s: Toggl rejected the request (%s)", what, s->api.err);
		return TOGGL_FATAL;
	default:
		snprintf(s->err, sizeof(s->err), "%s: unexpected answer from Toggl (%s)", what, s->api.err);
		return TOGGL_FATAL;
	}
}

/* A string member or NULL. */
static const char *
jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

enum toggl_rc
toggl_connect(struct toggl_sync *s, int store_token)
{
	char uid[DB_I64_LEN], tuid[DB_I64_LEN], bow[16], dws[DB_I64_LEN], aad[64], err[256];
	const char *tz;
	json_t *me = NULL, *v;
	char *sealed = NULL;
	int64_t id = 0, ws = 0;
	enum toggl_rc rc;
	PGresult *r;
	int in_tx = 0;

	if (api_toggl_me(&s->api, &me) != API_TOGGL_OK) {
		if (s->api.res == API_TOGGL_AUTH) {
			/* The stored token (a job verifying what the admin page saved) is now known bad. */
			if (!store_token)
				mark_invalid(s, s->api.err);
			snprintf(s->err, sizeof(s->err), "Toggl refused this API token (%s): it is wrong, or it was reset. "
			    "Copy the current one from " TOKEN_PAGE, s->api.err);
			rc = TOGGL_AUTH;
		} else
			rc = toggl_sync_fail(s, "verifying the token");
		goto out;
	}
	if (toggl_json_id(me, "id", 0, &id) != 1) {
		snprintf(s->err, sizeof(s->err), "GET /me answered without a user id");
		rc = TOGGL_FATAL;
		goto out;
	}
	if (toggl_json_id(me, "default_workspace_id", 0, &ws) != 1)
		ws = 0;
	v = json_object_get(me, "beginning_of_week");
	snprintf(bow, sizeof(bow), "%d", json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 6 ? (int)json_integer_value(v) : 1);
	tz = jstr(me, "timezone");
	if (tz != NULL && (strlen(tz) == 0 || strlen(tz) > 64))
		tz = NULL;

	db_i64s(s->user_id, uid);
	if (db_begin(s->db) != 0)
		goto dberr;
	in_tx = 1;
	if (store_token) {
		aad_token(s->user_id, aad, sizeof(aad));
		if (crypto_seal(s->api.token, strlen(s->api.token), aad, &sealed) != 0) {
			snprintf(s->err, sizeof(s->err), "sealing the token failed");
			rc = TOGGL_FATAL;
			goto out;
		}
		if (DB_RUN(s->db, STMT_SECRET_PUT, uid, "toggl_token", "", sealed) != 0)
			goto dberr;
	}
	if (DB_RUN(s->db, STMT_TOGGL_ACCOUNT_UPSERT, uid, db_i64s(id, tuid), jstr(me, "email"), jstr(me, "fullname"),
	        tz, bow, ws > 0 ? db_i64s(ws, dws) : NULL) != 0) {
		if (strcmp(db_sqlstate(s->db), "23505") == 0) {
			snprintf(s->err, sizeof(s->err), "Toggl user %" PRId64 " (%s) is already connected to another "
			    "timebridge user", id, jstr(me, "email") ? jstr(me, "email") : "?");
			rc = TOGGL_CONFLICT;
			goto out;
		}
		goto dberr;
	}
	if (db_commit(s->db) != 0)
		goto dberr;
	in_tx = 0;
	s->connected = 1;
	s->invalid_token = 0;
	s->toggl_user_id = id;
	log_info(s->ctx, "toggl: user %" PRId64 " connected to Toggl user %" PRId64, s->user_id, id);

	if ((rc = toggl_metadata_refresh(s)) != TOGGL_OK) {
		if (rc != TOGGL_RETRY)
			goto out;
		/* Connected all the same: the refresh runs again as a job once Toggl lets it. */
		log_warn(s->ctx, "toggl: connected, but the metadata refresh must wait: %s", s->err);
		if (toggl_metadata_request(s->db, s->user_id) != 0)
			log_error(s->ctx, "toggl: queueing the metadata refresh: %s", s->db->err);
	}
	/* Jobs paused on a refused token can run again. */
	if ((r = DB_EXEC(s->db, STMT_JOB_RESUME_USER, uid, "toggl.%")) == NULL)
		goto dberr;
	PQclear(r);
	if (toggl_reconcile_schedule(s->db, s->user_id, err, sizeof(err)) != 0) {
		snprintf(s->err, sizeof(s->err), "scheduling the reconciliation: %s", err);
		rc = TOGGL_RETRY;
		goto out;
	}
	s->err[0] = rc == TOGGL_OK ? '\0' : s->err[0];
	rc = TOGGL_OK;
	goto out;
dberr:
	snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
	rc = TOGGL_RETRY;
out:
	if (in_tx)
		db_rollback(s->db);
	free(sealed);
	json_decref(me);
	return rc;
}

int
toggl_connect_enqueue(struct db *db, int64_t user_id, const char *token, char *err, size_t errsz)
{
	char uid[DB_I64_LEN], aad[64], key[64];
	char *sealed = NULL;
	size_t n = token ? strlen(token) : 0;
	PGresult *r;
	int rc = -1;

	if (n == 0 || n > LIMIT_TOGGL_TOKEN_MAX) {
		snprintf(err, errsz, "a Toggl API token is 1 to %d characters", LIMIT_TOGGL_TOKEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f || token[i] == ':') {
			snprintf(err, errsz, "a Toggl API token has no blanks, colons or special characters");
			return -1;
		}
	aad_token(user_id, aad, sizeof(aad));
	if (crypto_seal(token, n, aad, &sealed) != 0) {
		snprintf(err, errsz, "sealing the token failed");
		return -1;
	}
	db_i64s(user_id, uid);
	snprintf(key, sizeof(key), "toggl.connect:%" PRId64, user_id);
	if (DB_RUN(db, STMT_SECRET_PUT, uid, "toggl_token", "", sealed) != 0 ||
	    db_job_enqueue(db, "toggl.connect", "{}", user_id, key, 0) < 0) {
		snprintf(err, errsz, "database: %s", db->err);
		goto out;
	}
	/* Jobs paused on the old, refused token can run again once this one is verified; the connect job
	 * itself may be among them (a paused one absorbs the new enqueue). */
	if ((r = DB_EXEC(db, STMT_JOB_RESUME_USER, uid, "toggl.%")) == NULL) {
		snprintf(err, errsz, "database: %s", db->err);
		goto out;
	}
	PQclear(r);
	rc = 0;
out:
	free(sealed);
	return rc;
}

json_t *
toggl_account_json(struct db *db, int64_t user_id)
{
	char uid[DB_I64_LEN];
	json_t *o = NULL, *q, *ws;
	PGresult *r;

	db_i64s(user_id, uid);
	if ((r = DB_EXEC(db, STMT_TOGGL_ACCOUNT_GET, uid)) == NULL)
		return NULL;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return NULL;
	}
#define S(i) (db_str(r, 0, (i)) ? json_string(db_str(r, 0, (i))) : json_null())
	o = json_pack("{sI so so so si so so so so so so so si}",
	    "toggl_user_id", (json_int_t)db_i64(r, 0, 0), "email", S(1), "fullname", S(2), "time_zone", S(3),
	    "beginning_of_week", (int)db_i64(r, 0, 4),
	    "default_workspace_id", db_isnull(r, 0, 5) ? json_null() : json_integer(db_i64(r, 0, 5)),
	    "status", S(6), "status_detail", S(7),
	    "quota_remaining", db_isnull(r, 0, 8) ? json_null() : json_integer(db_i64(r, 0, 8)),
	    "quota_resets_at", S(9), "rate_limited_until", S(10), "last_pull_at", S(14),
	    "rate_strikes", (int)db_i64(r, 0, 12));
#undef S
	PQclear(r);
	if (o == NULL)
		return NULL;
	if ((r = DB_EXEC(db, STMT_TOGGL_QUOTA_LIST, uid)) != NULL) {
		q = json_array();
		for (int i = 0; i < PQntuples(r); i++)
			json_array_append_new(q, json_pack("{ss sI sI ss}", "bucket", db_str(r, i, 0),
			    "organization_id", (json_int_t)db_i64(r, i, 1), "remaining", (json_int_t)db_i64(r, i, 2),
			    "resets_at", db_str(r, i, 4)));
		json_object_set_new(o, "quota", q);
		PQclear(r);
	}
	if ((r = DB_EXEC(db, STMT_TOGGL_WORKSPACES_OF_USER, uid)) != NULL) {
		ws = json_array();
		for (int i = 0; i < PQntuples(r); i++)
			json_array_append_new(ws, json_pack("{sI sI ss sb so}", "id", (json_int_t)db_i64(r, i, 0),
			    "organization_id", (json_int_t)db_i64(r, i, 1), "name", db_str(r, i, 2),
			    "reports_api", db_bool(r, i, 3),
			    "plan", db_str(r, i, 4) ? json_string(db_str(r, i, 4)) : json_null()));
		json_object_set_new(o, "workspaces", ws);
		PQclear(r);
	}
	return o;
}
