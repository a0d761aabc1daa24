/* webhooks.c: our Toggl webhook subscription per workspace: setup, remove, status.
 *
 * Ours is a subscription whose Toggl id our live webhook_subscriptions row holds, or (a row lost after a
 * crash) whose description is exactly the one we give ("timebridge <public host> user <id>") with a
 * callback on our public host. Nothing else is ever changed or deleted. The URL token (LIMIT_TOKEN_BYTES
 * random bytes, URL-safe) is stored only as crypto_token_hash(); the stored callback has it redacted. The
 * signing secret is ours too, sealed in secrets (kind webhook_secret, ref = row id, AAD
 * "webhook_secret:<row id>"). Row and secret are committed BEFORE the create, because Toggl pings the
 * callback while creating and the receiver must already answer it. A changed PUBLIC_URL is fixed by a PUT
 * of the callback (the token, read back from Toggl's copy of the URL and checked against our hash, stays).
 * Event filters fit GET /limits/{wid}: time_entry first, then project, client, tag, each as "<entity> *"
 * (one filter each); if Toggl refuses that, the explicit time_entry created/updated/deleted. */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "toggl/toggl.h"
#include "util/buf.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/tbtime.h"

#define CALLBACK_PATH  "/webhook/toggl/"
#define DESC_PREFIX    "timebridge"

/* Our live row for (user, workspace). */
struct hook_row {
	int      found;
	int64_t  id;
	int64_t  sid;           /* Toggl's subscription id, 0 until known */
	char     token_hash[2 * CRYPTO_SHA256_LEN + 1];
	char     last_event_at[TB_RFC3339_SIZE];
};

/* One subscription from Toggl's listing (borrowed from the JSON). */
struct upsub {
	json_t      *obj;
	int64_t      sid;
	int64_t      user_id;
	int          enabled;
	int          pending;
	const char  *validated_at;   /* NULL: not validated */
	const char  *url;
	const char  *description;
	json_t      *filters;
};

static const char *
jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
parse_sub(json_t *o, struct upsub *u)
{
	int64_t ms;

	memset(u, 0, sizeof(*u));
	if (!json_is_object(o) || toggl_json_id(o, "subscription_id", 0, &u->sid) != 1)
		return -1;
	u->obj = o;
	if (toggl_json_id(o, "user_id", 0, &u->user_id) != 1)
		u->user_id = 0;
	u->enabled = json_is_true(json_object_get(o, "enabled"));
	u->pending = json_is_true(json_object_get(o, "has_pending_events"));
	u->validated_at = jstr(o, "validated_at");
	if (u->validated_at != NULL && tb_parse_rfc3339(u->validated_at, &ms) != 0)
		u->validated_at = NULL;
	u->url = jstr(o, "url_callback");
	u->description = jstr(o, "description");
	u->filters = json_object_get(o, "event_filters");
	if (!json_is_array(u->filters))
		u->filters = NULL;
	return 0;
}

/* "host[:port]" of an http(s) URL, lowercased; "" when it has none. */
static void
url_host(const char *url, char *out, size_t n)
{
	const char *p = url ? strstr(url, "://") : NULL;
	size_t i = 0;

	if (n == 0)
		return;
	if (p != NULL)
		for (p += 3; *p && *p != '/' && *p != '?' && *p != '#' && i + 1 < n; p++)
			out[i++] = (char)tolower((unsigned char)*p);
	out[i] = '\0';
}

/* The token at the end of one of our callback URLs, or NULL. */
static const char *
url_token(const char *url)
{
	const char *p = url ? strstr(url, CALLBACK_PATH) : NULL;

	if (p == NULL)
		return NULL;
	p += strlen(CALLBACK_PATH);
	if (*p == '\0' || strpbrk(p, "/?#") != NULL)
		return NULL;
	return p;
}

static void
our_description(const struct toggl_sync *s, char *out, size_t n)
{
	char host[256];

	url_host(config_get()->public_url, host, sizeof(host));
	snprintf(out, n, DESC_PREFIX " %s user %" PRId64, host, s->user_id);
}

/* Ours by looks: our exact description and a callback on our public host (a row lost after a crash). */
static int
ours_by_looks(const struct toggl_sync *s, const struct upsub *u)
{
	char want[320], host[256], mine[256];

	our_description(s, want, sizeof(want));
	url_host(u->url, host, sizeof(host));
	url_host(config_get()->public_url, mine, sizeof(mine));
	return u->description != NULL && strcmp(u->description, want) == 0 && strcmp(host, mine) == 0;
}

static int
token_matches(const struct hook_row *row, const char *url)
{
	char h[2 * CRYPTO_SHA256_LEN + 1];
	const char *tok = url_token(url);

	if (tok == NULL)
		return 0;
	crypto_token_hash(tok, h);
	return h[0] != '\0' && crypto_eq(h, strlen(h), row->token_hash, strlen(row->token_hash));
}

static void
redacted_url(char *out, size_t n)
{
	snprintf(out, n, "%s" CALLBACK_PATH "{token}", config_get()->public_url);
}

static int
load_row(struct toggl_sync *s, int64_t wid, struct hook_row *row)
{
	char uid[DB_I64_LEN], w[DB_I64_LEN];
	PGresult *r;

	memset(row, 0, sizeof(*row));
	if ((r = DB_EXEC(s->db, STMT_TOGGL_HOOK_LIVE, db_i64s(s->user_id, uid), db_i64s(wid, w))) == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		row->found = 1;
		row->id = db_i64(r, 0, 0);
		row->sid = db_i64(r, 0, 1);
		snprintf(row->token_hash, sizeof(row->token_hash), "%s", db_str(r, 0, 2) ? db_str(r, 0, 2) : "");
		snprintf(row->last_event_at, sizeof(row->last_event_at), "%s", db_str(r, 0, 9) ? db_str(r, 0, 9) : "");
	}
	PQclear(r);
	return 0;
}

/* Record Toggl's view of our subscription in our row. */
static int
store_upstream(struct toggl_sync *s, const struct hook_row *row, const struct upsub *u)
{
	char id[DB_I64_LEN], sid[DB_I64_LEN], url[1024];
	char *filters = json_dumps(u->filters ? u->filters : json_array(), JSON_COMPACT);
	int rc;

	if (filters == NULL)
		return -1;
	redacted_url(url, sizeof(url));
	rc = DB_RUN(s->db, STMT_TOGGL_HOOK_SET_UPSTREAM, db_i64s(row->id, id), db_i64s(u->sid, sid),
	    u->enabled ? "true" : "false", u->validated_at, u->pending ? "true" : "false", filters, url);
	free(filters);
	return rc;
}

/* Revoke our row (the URL answers 404 from now on) and drop its secret, in one transaction. */
static int
revoke_row(struct toggl_sync *s, int64_t row_id)
{
	char id[DB_I64_LEN], uid[DB_I64_LEN];

	if (db_begin(s->db) != 0)
		return -1;
	if (DB_RUN(s->db, STMT_TOGGL_HOOK_REVOKE, db_i64s(row_id, id)) != 0 ||
	    DB_RUN(s->db, STMT_SECRET_DELETE, db_i64s(s->user_id, uid), "webhook_secret", id) != 0) {
		db_rollback(s->db);
		return -1;
	}
	return db_commit(s->db);
}

/* Our signing secret of row row_id, malloc'ed (crypto_free_secret), or NULL. */
static char *
load_secret(struct toggl_sync *s, int64_t row_id)
{
	char id[DB_I64_LEN], uid[DB_I64_LEN], aad[64];
	char *out = NULL;
	size_t len;
	PGresult *r;

	db_i64s(row_id, id);
	if ((r = DB_EXEC(s->db, STMT_SECRET_GET, db_i64s(s->user_id, uid), "webhook_secret", id)) == NULL)
		return NULL;
	snprintf(aad, sizeof(aad), "webhook_secret:%s", id);
	if (PQntuples(r) != 1 || crypto_open(db_str(r, 0, 0), aad, &out, &len) != 0)
		out = NULL;
	PQclear(r);
	return out;
}

/* The filters for a plan allowing max_events per webhook. star: one "<entity> *" per entity. */
static json_t *
choose_filters(long max_events, int star)
{
	static const char *const entities[] = { "time_entry", "project", "client", "tag" };
	static const char *const te_actions[] = { "created", "updated", "deleted" };
	json_t *f = json_array();
	long n = 0;

	if (f == NULL)
		return NULL;
	if (!star)
		for (size_t i = 0; i < 3 && n < max_events; i++, n++)
			json_array_append_new(f, json_pack("{ss ss}", "entity", "time_entry", "action", te_actions[i]));
	for (size_t i = star ? 0 : 1; i < sizeof(entities) / sizeof(entities[0]) && n < max_events; i++, n++)
		json_array_append_new(f, json_pack("{ss ss}", "entity", entities[i], "action", "*"));
	return f;
}

static json_t *
status_obj(struct toggl_sync *s, int64_t wid, const struct hook_row *row, const struct upsub *u,
    const char *result, json_t *foreign)
{
	char host[256];
	json_t *o;

	url_host(u && u->url ? u->url : config_get()->public_url, host, sizeof(host));
	o = json_pack("{sI sI ss sb so sb so ss so}", "workspace_id", (json_int_t)wid,
	    "subscription_id", (json_int_t)(u ? u->sid : row->sid), "result", result,
	    "enabled", u ? u->enabled : 0,
	    "validated_at", u && u->validated_at ? json_string(u->validated_at) : json_null(),
	    "has_pending_events", u ? u->pending : 0,
	    "last_event_at", row->last_event_at[0] ? json_string(row->last_event_at) : json_null(),
	    "callback_host", host,
	    "event_filters", u && u->filters ? json_incref(u->filters) : json_array());
	if (o != NULL && foreign != NULL)
		json_object_set(o, "foreign", foreign);
	(void)s;
	return o;
}

/* The subscriptions in Toggl's listing that are not ours (row), as [{id, description, url, enabled}]. */
static json_t *
foreign_subs(struct toggl_sync *s, json_t *list, const struct hook_row *row, long *enabled_mine)
{
	json_t *out = json_array(), *item;
	struct upsub u;
	size_t i;

	*enabled_mine = 0;
	json_array_foreach(list, i, item) {
		if (parse_sub(item, &u) != 0 || (row->found && u.sid == row->sid) || ours_by_looks(s, &u))
			continue;
		if (u.enabled && (u.user_id == 0 || u.user_id == s->toggl_user_id))
			(*enabled_mine)++;
		json_array_append_new(out, json_pack("{sI ss ss sb}", "subscription_id", (json_int_t)u.sid,
		    "description", u.description ? u.description : "", "url_callback", u.url ? u.url : "",
		    "enabled", u.enabled));
	}
	return out;
}

static void
describe_foreign(json_t *foreign, char *out, size_t n)
{
	json_t *item;
	size_t i, o = 0;

	out[0] = '\0';
	json_array_foreach(foreign, i, item) {
		if (!json_is_true(json_object_get(item, "enabled")))
			continue;
		o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s#%" JSON_INTEGER_FORMAT " \"%s\" -> %s",
		    o ? "; " : "", json_integer_value(json_object_get(item, "subscription_id")),
		    jstr(item, "description"), jstr(item, "url_callback"));
		if (o >= n)
			break;
	}
}

/* Find in list the subscription with Toggl id sid. */
static int
find_sub(json_t *list, int64_t sid, struct upsub *u)
{
	json_t *item;
	size_t i;

	json_array_foreach(list, i, item)
		if (parse_sub(item, u) == 0 && u->sid == sid)
			return 1;
	return 0;
}

/* Put Toggl's answer ans (a subscription) into list in place of the entry with its id, and point u at
 * it. The list keeps it alive. */
static void
replace_sub(json_t *list, json_t *ans, struct upsub *u)
{
	struct upsub v;
	json_t *item;
	size_t i;

	if (parse_sub(ans, &v) != 0)
		return;
	json_array_foreach(list, i, item)
		if (parse_sub(item, u) == 0 && u->sid == v.sid) {
			json_array_set(list, i, ans);
			find_sub(list, v.sid, u);
			return;
		}
	json_array_append(list, ans);
	find_sub(list, v.sid, u);
}

static enum toggl_rc
dberr(struct toggl_sync *s)
{
	snprintf(s->err, sizeof(s->err), "database: %s", s->db->err);
	s->retry_after_s = 0;
	return TOGGL_RETRY;
}

/* Make sure wid is one of the user's workspaces (refreshing the metadata once when it is unknown). */
static enum toggl_rc
check_workspace(struct toggl_sync *s, int64_t wid)
{
	char w[DB_I64_LEN];
	PGresult *r;
	enum toggl_rc rc;
	int known;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((r = DB_EXEC(s->db, STMT_TOGGL_WORKSPACE_GET, db_i64s(wid, w))) == NULL)
			return dberr(s);
		known = PQntuples(r) == 1;
		PQclear(r);
		if (known)
			return TOGGL_OK;
		if (attempt == 0 && (rc = toggl_metadata_refresh(s)) != TOGGL_OK)
			return rc;
	}
	snprintf(s->err, sizeof(s->err), "workspace %" PRId64 " is not one of this user's Toggl workspaces", wid);
	return TOGGL_NOTFOUND;
}

/* Bring an existing subscription of ours up to date: callback on today's PUBLIC_URL, enabled, validated. */
static enum toggl_rc
repair(struct toggl_sync *s, int64_t wid, const struct hook_row *row, struct upsub *u, json_t **list,
    const char **result)
{
	char want[1024], desc[320];
	const char *tok = url_token(u->url);
	json_t *body = NULL, *ans = NULL;
	char *secret = NULL;
	enum toggl_rc rc = TOGGL_OK;

	*result = "unchanged";
	if (tok == NULL || !token_matches(row, u->url)) {
		/* Not the URL we gave: we cannot rebuild it, so the caller replaces the subscription. */
		return TOGGL_CONFLICT;
	}
	snprintf(want, sizeof(want), "%s" CALLBACK_PATH "%s", config_get()->public_url, tok);
	if (strcmp(want, u->url) != 0) {
		/* PUBLIC_URL changed: a full update with the new callback; Toggl pings it before answering. */
		our_description(s, desc, sizeof(desc));
		secret = load_secret(s, row->id);
		body = json_pack("{ss so sb ss}", "url_callback", want,
		    "event_filters", u->filters ? json_incref(u->filters) : choose_filters(1, 1), "enabled", 1,
		    "description", desc);
		if (body == NULL || (secret != NULL && json_object_set_new(body, "secret", json_string(secret)) != 0)) {
			snprintf(s->err, sizeof(s->err), "out of memory");
			rc = TOGGL_RETRY;
			goto out;
		}
		if (api_toggl_subscription_update(&s->api, wid, u->sid, body, &ans) != API_TOGGL_OK) {
			rc = toggl_sync_fail(s, "updating the webhook callback");
			goto out;
		}
		*result = "callback updated";
		log_info(s->ctx, "toggl: workspace %" PRId64 ": webhook %" PRId64 " callback moved to %s", wid, u->sid,
		    config_get()->public_url);
	} else if (!u->enabled) {
		if (api_toggl_subscription_enable(&s->api, wid, u->sid, 1, &ans) != API_TOGGL_OK) {
			rc = toggl_sync_fail(s, "enabling the webhook");
			goto out;
		}
		*result = "enabled";
	}
	if (ans != NULL)
		replace_sub(*list, ans, u);
out:
	crypto_free_secret(secret);
	json_decref(body);
	json_decref(ans);
	return rc;
}

/* A subscription that is enabled but not validated gets a ping (we answer it with the code); then Toggl's
 * view is read again. */
static enum toggl_rc
validate(struct toggl_sync *s, int64_t wid, int64_t sid, json_t **list, struct upsub *u)
{
	if (u->validated_at != NULL || !u->enabled)
		return TOGGL_OK;
	if (api_toggl_subscription_ping(&s->api, wid, sid) != API_TOGGL_OK)
		return toggl_sync_fail(s, "pinging the webhook to validate it");
	json_decref(*list);
	*list = NULL;
	if (api_toggl_subscriptions(&s->api, wid, list) != API_TOGGL_OK)
		return toggl_sync_fail(s, "listing webhook subscriptions");
	if (!find_sub(*list, sid, u)) {
		snprintf(s->err, sizeof(s->err), "webhook subscription %" PRId64 " vanished at Toggl while validating", sid);
		return TOGGL_RETRY;
	}
	return TOGGL_OK;
}

/* Create our subscription: row and sealed secret first (committed), then POST. */
static enum toggl_rc
create(struct toggl_sync *s, int64_t wid, json_t **list, struct hook_row *row, struct upsub *u)
{
	char token[64], secret[64], hash[2 * CRYPTO_SHA256_LEN + 1], url[1024], red[1024], desc[320];
	char uid[DB_I64_LEN], w[DB_I64_LEN], id[DB_I64_LEN], aad[64], names[1024];
	json_t *foreign = NULL, *filters = NULL, *body = NULL, *ans = NULL;
	char *sealed = NULL, *ftext = NULL;
	long max_hooks = 0, max_events = 0, enabled_mine = 0;
	enum toggl_rc rc;
	PGresult *r;
	int star = 1;

	token[0] = secret[0] = '\0';
	if (api_toggl_limits(&s->api, wid, &max_hooks, &max_events) != API_TOGGL_OK) {
		rc = toggl_sync_fail(s, "reading the webhook limits");
		goto out;
	}
	foreign = foreign_subs(s, *list, row, &enabled_mine);
	if (max_events < 1 || max_hooks < 1 || enabled_mine >= max_hooks) {
		describe_foreign(foreign, names, sizeof(names));
		snprintf(s->err, sizeof(s->err), "workspace %" PRId64 " allows %ld enabled webhook subscription%s "
		    "(%ld events each) on its plan, and subscriptions timebridge did not create use %s: %s. Remove or "
		    "disable one in Toggl, then set up again", wid, max_hooks, max_hooks == 1 ? "" : "s", max_events,
		    max_hooks == 1 ? "it" : "them all", names[0] ? names : "(none listed)");
		rc = TOGGL_CONFLICT;
		goto out;
	}
	if (crypto_token(token, sizeof(token), LIMIT_TOKEN_BYTES) != 0 ||
	    crypto_token(secret, sizeof(secret), LIMIT_TOKEN_BYTES) != 0) {
		snprintf(s->err, sizeof(s->err), "no randomness for the webhook token");
		rc = TOGGL_RETRY;
		goto out;
	}
	crypto_token_hash(token, hash);
	snprintf(url, sizeof(url), "%s" CALLBACK_PATH "%s", config_get()->public_url, token);
	redacted_url(red, sizeof(red));
	our_description(s, desc, sizeof(desc));
	if ((filters = choose_filters(max_events, star)) == NULL || (ftext = json_dumps(filters, JSON_COMPACT)) == NULL) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		rc = TOGGL_RETRY;
		goto out;
	}

	if (db_begin(s->db) != 0)
		goto db;
	if ((r = DB_EXEC(s->db, STMT_TOGGL_HOOK_INSERT, db_i64s(s->user_id, uid), db_i64s(wid, w), hash, desc, red,
	        ftext)) == NULL) {
		db_rollback(s->db);
		goto db;
	}
	memset(row, 0, sizeof(*row));
	row->found = 1;
	row->id = db_i64(r, 0, 0);
	snprintf(row->token_hash, sizeof(row->token_hash), "%s", hash);
	PQclear(r);
	db_i64s(row->id, id);
	snprintf(aad, sizeof(aad), "webhook_secret:%s", id);
	if (crypto_seal(secret, strlen(secret), aad, &sealed) != 0 ||
	    DB_RUN(s->db, STMT_SECRET_PUT, uid, "webhook_secret", id, sealed) != 0) {
		db_rollback(s->db);
		goto db;
	}
	if (db_commit(s->db) != 0)
		goto db;

	for (;;) {
		body = json_pack("{ss sO sb ss ss}", "url_callback", url, "event_filters", filters, "enabled", 1,
		    "description", desc, "secret", secret);
		if (body == NULL) {
			snprintf(s->err, sizeof(s->err), "out of memory");
			rc = TOGGL_RETRY;
			goto undo;
		}
		if (api_toggl_subscription_create(&s->api, wid, body, &ans) == API_TOGGL_OK)
			break;
		json_decref(body);
		body = NULL;
		/* "<entity> *" refused as too many or invalid filters: the explicit time entry actions. */
		if (star && s->api.res == API_TOGGL_REJECTED && strstr(s->api.err, "filter") != NULL) {
			log_info(s->ctx, "toggl: workspace %" PRId64 ": %s; trying explicit time_entry filters", wid, s->api.err);
			star = 0;
			json_decref(filters);
			if ((filters = choose_filters(max_events, 0)) == NULL) {
				snprintf(s->err, sizeof(s->err), "out of memory");
				rc = TOGGL_RETRY;
				goto undo;
			}
			continue;
		}
		rc = toggl_sync_fail(s, "creating the webhook subscription");
		if (s->api.res == API_TOGGL_REJECTED && strstr(s->api.err, "limit") != NULL) {
			describe_foreign(foreign, names, sizeof(names));
			snprintf(s->err + strlen(s->err), sizeof(s->err) - strlen(s->err), ". Subscriptions timebridge did "
			    "not create in this workspace: %s", names[0] ? names : "(none enabled)");
			rc = TOGGL_CONFLICT;
		}
		goto undo;
	}
	if (parse_sub(ans, u) != 0) {
		snprintf(s->err, sizeof(s->err), "creating the webhook subscription: Toggl answered without a subscription_id");
		rc = TOGGL_FATAL;
		goto undo;
	}
	row->sid = u->sid;
	replace_sub(*list, ans, u);
	log_info(s->ctx, "toggl: workspace %" PRId64 ": webhook subscription %" PRId64 " created (%s)", wid, u->sid,
	    u->validated_at ? "validated" : "not validated yet");
	rc = TOGGL_OK;
	goto out;
undo:
	/* Toggl has no subscription for this row: revoke it so its URL answers 404. */
	if (revoke_row(s, row->id) != 0)
		log_error(s->ctx, "toggl: revoking webhook row %" PRId64 ": %s", row->id, s->db->err);
	row->found = 0;
	goto out;
db:
	rc = dberr(s);
out:
	crypto_wipe(token, sizeof(token));
	crypto_wipe(secret, sizeof(secret));
	if (body != NULL) {
		/* The body held the secret. */
		json_object_del(body, "secret");
		json_decref(body);
	}
	free(sealed);
	free(ftext);
	json_decref(filters);
	json_decref(foreign);
	json_decref(ans);
	return rc;
}

enum toggl_rc
toggl_webhook_setup(struct toggl_sync *s, int64_t wid, json_t **out)
{
	struct hook_row row;
	struct upsub u;
	json_t *list = NULL, *item, *foreign = NULL;
	const char *result = "unchanged";
	enum toggl_rc rc;
	long enabled_mine;
	size_t i;
	int have = 0;

	if (out != NULL)
		*out = NULL;
	if ((rc = toggl_sync_require(s)) != TOGGL_OK || (rc = check_workspace(s, wid)) != TOGGL_OK)
		return rc;
	if (load_row(s, wid, &row) != 0)
		return dberr(s);
	if (api_toggl_subscriptions(&s->api, wid, &list) != API_TOGGL_OK)
		return toggl_sync_fail(s, "listing webhook subscriptions");

	if (row.found && row.sid > 0)
		have = find_sub(list, row.sid, &u);
	if (row.found && row.sid == 0) {
		/* Created at Toggl but the answer was lost (a crash): find it by the token in its URL. */
		json_array_foreach(list, i, item)
			if (parse_sub(item, &u) == 0 && token_matches(&row, u.url)) {
				row.sid = u.sid;
				have = 1;
				break;
			}
	}
	if (have) {
		rc = repair(s, wid, &row, &u, &list, &result);
		if (rc == TOGGL_CONFLICT) {
			/* Ours by id, but its URL is not one we can rebuild: replace it. */
			log_warn(s->ctx, "toggl: workspace %" PRId64 ": webhook %" PRId64 " has a callback we did not set; "
			    "replacing it", wid, u.sid);
			if (api_toggl_subscription_delete(&s->api, wid, u.sid) != API_TOGGL_OK &&
			    s->api.res != API_TOGGL_NOT_FOUND) {
				rc = toggl_sync_fail(s, "deleting our broken webhook subscription");
				goto out;
			}
			have = 0;
		} else if (rc != TOGGL_OK)
			goto out;
	}
	if (!have) {
		if (row.found && revoke_row(s, row.id) != 0) {
			rc = dberr(s);
			goto out;
		}
		row.found = 0;
		/* Ours by looks but unknown to our rows (lost after a crash or a restore): delete before creating,
		 * or the description clash would refuse the new one. */
		json_array_foreach(list, i, item) {
			if (parse_sub(item, &u) != 0 || !ours_by_looks(s, &u))
				continue;
			log_warn(s->ctx, "toggl: workspace %" PRId64 ": deleting our orphaned webhook %" PRId64, wid, u.sid);
			if (api_toggl_subscription_delete(&s->api, wid, u.sid) != API_TOGGL_OK &&
			    s->api.res != API_TOGGL_NOT_FOUND) {
				rc = toggl_sync_fail(s, "deleting an orphaned webhook subscription");
				goto out;
			}
			json_array_remove(list, i);
			i--;
		}
		if ((rc = create(s, wid, &list, &row, &u)) != TOGGL_OK)
			goto out;
		result = "created";
	}
	if ((rc = validate(s, wid, u.sid, &list, &u)) != TOGGL_OK)
		goto out;
	if (store_upstream(s, &row, &u) != 0) {
		rc = dberr(s);
		goto out;
	}
	if (u.validated_at == NULL)
		log_warn(s->ctx, "toggl: workspace %" PRId64 ": webhook %" PRId64 " is not validated: is %s reachable "
		    "from Toggl?", wid, u.sid, config_get()->public_url);
	if (out != NULL) {
		foreign = foreign_subs(s, list, &row, &enabled_mine);
		*out = status_obj(s, wid, &row, &u, result, foreign);
	}
	rc = TOGGL_OK;
out:
	json_decref(foreign);
	json_decref(list);
	return rc;
}

enum toggl_rc
toggl_webhook_remove(struct toggl_sync *s, int64_t wid)
{
	struct hook_row row;
	enum toggl_rc rc;

	if ((rc = toggl_sync_require(s)) != TOGGL_OK)
		return rc;
	if (load_row(s, wid, &row) != 0)
		return dberr(s);
	if (!row.found) {
		snprintf(s->err, sizeof(s->err), "no webhook of timebridge in workspace %" PRId64 ": nothing to remove", wid);
		return TOGGL_NOTFOUND;
	}
	/* Upstream first: if Toggl cannot be told, our URL keeps answering its deliveries. */
	if (row.sid > 0 && api_toggl_subscription_delete(&s->api, wid, row.sid) != API_TOGGL_OK &&
	    s->api.res != API_TOGGL_NOT_FOUND)
		return toggl_sync_fail(s, "deleting the webhook subscription");
	if (revoke_row(s, row.id) != 0)
		return dberr(s);
	log_info(s->ctx, "toggl: workspace %" PRId64 ": webhook %" PRId64 " removed, its URL revoked", wid, row.sid);
	return TOGGL_OK;
}

/* The stored rows of the user (wid 0: all) as status objects; each row's Toggl view is filled from lists
 * (a JSON object wid -> listing) when given. */
static json_t *
rows_json(struct db *db, int64_t user_id, int64_t wid)
{
	char uid[DB_I64_LEN], w[DB_I64_LEN];
	json_error_t jerr;
	json_t *arr, *o;
	PGresult *r;

	if ((r = DB_EXEC(db, STMT_TOGGL_HOOK_LIST, user_id > 0 ? db_i64s(user_id, uid) : NULL,
	        wid > 0 ? db_i64s(wid, w) : NULL)) == NULL)
		return NULL;
	if ((arr = json_array()) == NULL) {
		PQclear(r);
		return NULL;
	}
#define S(c) (db_str(r, i, (c)) ? json_string(db_str(r, i, (c))) : json_null())
	for (int i = 0; i < PQntuples(r); i++) {
		char host[256];
		json_t *filters = db_str(r, i, 12) ? json_loads(db_str(r, i, 12), 0, &jerr) : NULL;
		url_host(db_str(r, i, 11), host, sizeof(host));
		o = json_pack("{sI sI so sI so so sb so sb so so ss so so}", "id", (json_int_t)db_i64(r, i, 0),
		    "user_id", (json_int_t)db_i64(r, i, 1), "email", S(2), "workspace_id", (json_int_t)db_i64(r, i, 3),
		    "workspace_name", S(4),
		    "subscription_id", db_isnull(r, i, 5) ? json_null() : json_integer(db_i64(r, i, 5)),
		    "enabled", db_bool(r, i, 6), "validated_at", S(7), "has_pending_events", db_bool(r, i, 8),
		    "last_event_at", S(9), "description", S(10), "callback_host", host,
		    "event_filters", filters ? filters : json_array(), "created_at", S(13));
		if (o != NULL)
			json_array_append_new(arr, o);
	}
#undef S
	PQclear(r);
	return arr;
}

json_t *
toggl_webhook_status_db(struct db *db, int64_t user_id, int64_t wid)
{
	return rows_json(db, user_id, wid);
}

enum toggl_rc
toggl_webhook_status(struct toggl_sync *s, int64_t wid, json_t **out)
{
	struct hook_row row;
	struct upsub u;
	json_t *rows = NULL, *item, *list = NULL, *foreign;
	enum toggl_rc rc;
	long enabled_mine;
	size_t i;
	int64_t w;

	*out = NULL;
	if ((rc = toggl_sync_require(s)) != TOGGL_OK && rc != TOGGL_AUTH)
		return rc;
	if ((rows = rows_json(s->db, s->user_id, wid)) == NULL)
		return dberr(s);
	if (wid > 0 && json_array_size(rows) == 0) {
		json_decref(rows);
		snprintf(s->err, sizeof(s->err), "no webhook of timebridge in workspace %" PRId64, wid);
		return TOGGL_NOTFOUND;
	}
	json_array_foreach(rows, i, item) {
		w = json_integer_value(json_object_get(item, "workspace_id"));
		if (rc != TOGGL_OK || load_row(s, w, &row) != 0 ||
		    api_toggl_subscriptions(&s->api, w, &list) != API_TOGGL_OK) {
			/* Toggl cannot be asked now (quota, refused token...): say the status is the stored one. */
			json_object_set_new(item, "stale", json_true());
			json_object_set_new(item, "note", json_string(rc != TOGGL_OK ? s->err : s->api.err));
			continue;
		}
		foreign = foreign_subs(s, list, &row, &enabled_mine);
		json_object_set_new(item, "foreign", foreign);
		if (row.sid > 0 && find_sub(list, row.sid, &u)) {
			if (store_upstream(s, &row, &u) != 0)
				log_warn(s->ctx, "toggl: storing webhook status: %s", s->db->err);
			json_object_set_new(item, "enabled", json_boolean(u.enabled));
			json_object_set_new(item, "validated_at", u.validated_at ? json_string(u.validated_at) : json_null());
			json_object_set_new(item, "has_pending_events", json_boolean(u.pending));
			if (u.filters)
				json_object_set(item, "event_filters", u.filters);
			json_object_set_new(item, "upstream", json_string("ok"));
		} else {
			json_object_set_new(item, "upstream", json_string("missing"));
			json_object_set_new(item, "note", json_string("Toggl has no such subscription any more: set it up again"));
		}
		json_decref(list);
		list = NULL;
	}
	*out = rows;
	return TOGGL_OK;
}

int
toggl_webhook_enqueue(struct db *db, int64_t user_id, int64_t wid, const char *kind)
{
	char key[96], payload[64];

	if (strcmp(kind, "toggl.webhook_setup") != 0 && strcmp(kind, "toggl.webhook_remove") != 0)
		return -1;
	snprintf(key, sizeof(key), "%s:%" PRId64 ":%" PRId64, kind, user_id, wid);
	snprintf(payload, sizeof(payload), "{\"workspace_id\": %" PRId64 "}", wid);
	return db_job_enqueue(db, kind, payload, user_id, key, 0) < 0 ? -1 : 0;
}
