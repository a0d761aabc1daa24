/* h_webhook.c: POST /webhook/toggl/{token}, the front door for Toggl's webhook deliveries.
 *
 * Checked in this order, each with its own answer: unknown or revoked token 404; body over LIMIT_BODY_MAX
 * 413 (judged here, after the token: the route is R_LATE_413); missing or wrong X-Webhook-Signature-256
 * 401 (HMAC-SHA256 over the raw bytes, constant time, always required); not a JSON object, or not a
 * Toggl envelope, 400; then a ping (200, echoing a validation_code) or an event (200 whatever it did). A
 * database that is down or failing is 503, so Toggl delivers again later: nothing is lost.
 *
 * At most one database round trip per event in the steady state: the token → subscription lookup (with
 * the opened signing secret) is cached per process for LIMIT_WEBHOOK_CACHE_TTL_MS, and the event is one
 * statement (see the webhook block of stmt.c) that re-checks the subscription is live, deduplicates,
 * applies and records the raw body, in one implicit transaction; an entry naming a project or tag we do
 * not know queues the batched metadata refresh in that same statement. Entry upserts, nearly all the
 * traffic, are group-committed: the deliveries that arrive while one batch commits share the next
 * statement and commit, because the commit, not the row, is what a delivery costs. The 200 still comes
 * only after the event's own commit. No outbound call ever happens here.
 *
 * Deliberate non-checks: the envelope's `timestamp` (Toggl suggests refusing stale ones) is only
 * recorded, because deliveries retried after an outage of ours would otherwise be refused and lost; and
 * `url_callback` is only recorded, because the token in our path already names the subscription, the
 * signature proves the sender, and a changed public URL must not turn Toggl's queued retries into
 * rejections. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "handlers/handlers.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/parse.h"
#include "toggl/toggl.h"
#include "util/crypto.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/tbtime.h"

#define HASH_HEX (2 * CRYPTO_SHA256_LEN + 1)

/* One live subscription as the handler needs it. secret is malloc'ed and wiped by sub_clear(). */
struct sub {
	int64_t  id;
	int64_t  user_id;
	int64_t  workspace_id;
	char    *secret;
	size_t   secret_len;
	int      cached;     /* came from the cache: liveness not checked by this request yet */
};

/* The token cache: direct-mapped on the token hash (an HMAC, so uniformly spread). Process-wide state
 * that is not per request: each slot is a copy of a database row, valid until expires_ms. */
struct slot {
	char     hash[HASH_HEX];
	struct sub sub;
	int64_t  expires_ms;   /* tb_mono_ms() clock; 0 = empty */
};

static struct slot cache[LIMIT_WEBHOOK_CACHE_SLOTS];
static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;

static void
sub_clear(struct sub *s)
{
	if (s->secret) {
		crypto_wipe(s->secret, s->secret_len);
		free(s->secret);
	}
	memset(s, 0, sizeof(*s));
}

static size_t
slot_of(const char *hash)
{
	size_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = hash[i];
		v = v * 16 + (size_t)(c >= 'a' ? c - 'a' + 10 : c - '0');
	}
	return v % LIMIT_WEBHOOK_CACHE_SLOTS;
}

/* Copy a cached, unexpired subscription into *out. 1 hit, 0 miss, -1 out of memory. */
static int
cache_get(const char *hash, struct sub *out)
{
	struct slot *sl = &cache[slot_of(hash)];
	int rc = 0;

	pthread_rwlock_rdlock(&cache_lock);
	if (sl->expires_ms > tb_mono_ms() && crypto_eq(sl->hash, strlen(sl->hash), hash, strlen(hash))) {
		*out = sl->sub;
		if ((out->secret = malloc(sl->sub.secret_len + 1)) == NULL)
			rc = -1;
		else {
			memcpy(out->secret, sl->sub.secret, sl->sub.secret_len + 1);
			rc = 1;
		}
	}
	pthread_rwlock_unlock(&cache_lock);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

static void
cache_put(const char *hash, const struct sub *s)
{
	struct slot *sl = &cache[slot_of(hash)];
	char *copy = malloc(s->secret_len + 1);

	if (copy == NULL)
		return;   /* not cached: the next delivery reads the database again */
	memcpy(copy, s->secret, s->secret_len + 1);
	pthread_rwlock_wrlock(&cache_lock);
	sub_clear(&sl->sub);
	memcpy(sl->hash, hash, HASH_HEX);
	sl->sub = *s;
	sl->sub.secret = copy;
	sl->expires_ms = tb_mono_ms() + LIMIT_WEBHOOK_CACHE_TTL_MS;
	pthread_rwlock_unlock(&cache_lock);
}

/* Forget a subscription the database says is gone (revoked since it was cached). */
static void
cache_drop(const char *hash)
{
	struct slot *sl = &cache[slot_of(hash)];

	pthread_rwlock_wrlock(&cache_lock);
	if (strcmp(sl->hash, hash) == 0) {
		sub_clear(&sl->sub);
		sl->hash[0] = '\0';
		sl->expires_ms = 0;
	}
	pthread_rwlock_unlock(&cache_lock);
}

/* Our tokens are URL-safe base64; anything else cannot be one and costs no database work. */
static int
token_syntax_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	if (n == 0 || n > LIMIT_WEBHOOK_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_'))
			return 0;
	}
	return 1;
}

enum lookup { LOOKUP_FOUND, LOOKUP_UNKNOWN, LOOKUP_DB_ERROR, LOOKUP_NO_SECRET };

/* The live subscription of a token hash, from the cache or the database (then cached). */
static enum lookup
sub_lookup(struct req *r, const char *hash, struct sub *out)
{
	PGresult *res = NULL;
	const char *sealed;
	char aad[64], *plain = NULL;
	size_t plain_len = 0;
	enum lookup rc = LOOKUP_DB_ERROR;
	int hit;

	memset(out, 0, sizeof(*out));
	if ((hit = cache_get(hash, out)) == 1) {
		out->cached = 1;
		return LOOKUP_FOUND;
	}
	if (hit < 0)
		return LOOKUP_DB_ERROR;
	if ((res = DB_EXEC(r->db, STMT_WEBHOOK_SUB_BY_TOKEN, hash)) == NULL) {
		log_error(r->id, "webhook: subscription lookup: %s", r->db->err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		rc = LOOKUP_UNKNOWN;
		goto out;
	}
	out->id = db_i64(res, 0, 0);
	out->user_id = db_i64(res, 0, 1);
	out->workspace_id = db_i64(res, 0, 2);
	snprintf(aad, sizeof(aad), "webhook_secret:%lld", (long long)out->id);
	/* A secret that is missing or does not open (TIMEBRIDGE_SECRET_KEY changed?) is our fault, not the
	 * sender's: 503, so Toggl keeps the event and retries once an operator fixed it. */
	if ((sealed = db_str(res, 0, 3)) == NULL || crypto_open(sealed, aad, &plain, &plain_len) != 0 ||
	    plain_len == 0) {
		log_error(r->id, "webhook: subscription %lld: the signing secret is %s", (long long)out->id,
		    sealed ? "unreadable (was TIMEBRIDGE_SECRET_KEY changed?)" : "missing");
		rc = LOOKUP_NO_SECRET;
		goto out;
	}
	out->secret = plain;
	out->secret_len = plain_len;
	plain = NULL;
	cache_put(hash, out);
	out->cached = 0;
	rc = LOOKUP_FOUND;
out:
	if (plain)
		crypto_free_secret(plain);
	if (res)
		PQclear(res);
	if (rc != LOOKUP_FOUND)
		sub_clear(out);
	return rc;
}

/*
 * Before refusing a delivery (413, 401, 400) for a subscription found in the cache, ask the database that
 * it is still live: a removed subscription answers 404 first, whatever else is wrong with the delivery.
 * Refusals are rare, so this round trip is off the hot path. Returns the status to answer instead (404 or
 * 503, already answered), or 0 when the refusal stands.
 */
static int
confirm_live(struct req *r, const char *hash, const struct sub *sub, enum webhook_result *wr)
{
	PGresult *res;
	int live;

	if (!sub->cached)
		return 0;
	if ((res = DB_EXEC(r->db, STMT_WEBHOOK_SUB_BY_TOKEN, hash)) == NULL) {
		log_error(r->id, "webhook: subscription lookup: %s", r->db->err);
		resp_json_error(r, 503, "UNAVAILABLE", "cannot check this delivery now; deliver again later");
		*wr = WEBHOOK_DB_ERROR;
		return 503;
	}
	live = PQntuples(res) == 1 && db_i64(res, 0, 0) == sub->id;
	PQclear(res);
	if (live)
		return 0;
	cache_drop(hash);
	resp_json_error(r, 404, "NOT_FOUND", "no such webhook");
	*wr = WEBHOOK_UNKNOWN_TOKEN;
	return 404;
}

/* The reply to a delivery we took: 200 and what became of it (Toggl only looks at the status). */
static void
reply_ok(struct req *r, const char *result)
{
	resp_json(r, 200, json_pack("{s:s}", "result", result));
}

/* Toggl validates a subscription when the ping's answer is exactly {"validation_code": "<code>"}. The
 * code is printable ASCII (toggl_webhook_parse checked): only '"' and '\\' need escaping. */
static void
reply_validation(struct req *r, const char *code)
{
	r->status = 200;
	r->out_type = "application/json";
	buf_reset(&r->out);
	buf_puts(&r->out, "{\"validation_code\": \"");
	for (const char *p = code; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(&r->out, '\\');
		buf_putc(&r->out, *p);
	}
	buf_puts(&r->out, "\"}");
}

/* Text parameters of one event statement. Up to 20 ($1..$20); see stmt.c. */
#define NPARAM_MAX 20
struct params {
	const char *v[NPARAM_MAX];
	int         n;
	char        num[NPARAM_MAX][DB_I64_LEN];
	char       *owned[4];     /* json_dumps() strings, freed by params_free() */
	int         nowned;
};

static void
p_str(struct params *p, const char *s)
{
	p->v[p->n++] = s;
}

static void
p_i64(struct params *p, int present, int64_t v)
{
	p->v[p->n] = present ? db_i64s(v, p->num[p->n]) : NULL;
	p->n++;
}

static void
p_bool(struct params *p, int present, int v)
{
	p->v[p->n++] = present ? (v ? "true" : "false") : NULL;
}

/* A JSON value as text (an array of tags); NULL on out of memory, which the statement then fails on. */
static void
p_json(struct params *p, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);

	if (s && p->nowned < (int)(sizeof(p->owned) / sizeof(p->owned[0])))
		p->owned[p->nowned++] = s;
	p->v[p->n++] = s;
}

static void
params_free(struct params *p)
{
	for (int i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	p->nowned = 0;
}

/* $1..$6, common to every event statement. */
static void
p_common(struct params *p, struct req *r, const struct sub *sub, const struct toggl_webhook *ev)
{
	p->n = 0;
	p_i64(p, 1, sub->id);
	p_i64(p, 1, ev->event_id);
	p_str(p, r->body);
	p_str(p, ev->model);
	p_str(p, ev->action);
	p_i64(p, 1, LIMIT_WEBHOOK_TOUCH_S);
}

/* A time member of a metadata object: the text when it is RFC 3339, else NULL (treated as unknown). */
static const char *
meta_time(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	int64_t ms;

	if (!json_is_string(v) || tb_parse_rfc3339(json_string_value(v), &ms) != 0)
		return NULL;
	return json_string_value(v);
}

static const char *
meta_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* -1 absent or not a boolean, else 0/1. */
static int
meta_bool(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* Build the parameters of a time-entry event. 0, or -1 with err (the payload is not a usable entry). */
static int
entry_params(struct params *p, const struct toggl_webhook *ev, int deleted, struct toggl_entry *e,
    char stop_buf[TB_RFC3339_SIZE], char del_buf[TB_RFC3339_SIZE], char *err, size_t errsz)
{
	int64_t owner = 0, ms;
	int has_owner;
	const char *deleted_at = NULL;

	if (ev->payload != NULL) {
		if (toggl_entry_parse(ev->payload, deleted ? TOGGL_ENTRY_DELETED : TOGGL_ENTRY_FULL, e, err,
		    errsz) != 0)
			return -1;
	} else if (deleted && ev->object_id > 0) {
		/* A delete may come with metadata only: the entry id is enough for a tombstone. */
		json_t *o = json_pack("{s:I}", "id", (json_int_t)ev->object_id);
		int rc = o ? toggl_entry_parse(o, TOGGL_ENTRY_DELETED, e, err, errsz) : -1;
		json_decref(o);   /* e borrows nothing from o: DELETED mode with only an id keeps no strings */
		if (rc != 0)
			return -1;
	} else {
		snprintf(err, errsz, "the event has no time entry payload");
		return -1;
	}
	/* An update that carries a tombstone is a delete. */
	if (!deleted && e->server_deleted_at)
		deleted = 1;
	has_owner = e->has_user;
	owner = e->user_id;
	if (!has_owner && ev->model_owner_id > 0) {
		owner = ev->model_owner_id;
		has_owner = 1;
	}
	if (!deleted && !has_owner) {
		snprintf(err, errsz, "the time entry names no user (user_id, uid or metadata.model_owner_id)");
		toggl_entry_free(e);
		return -1;
	}
	if (deleted) {
		/* When it was deleted: as Toggl says, else its last change, else when the event happened, else now. */
		deleted_at = e->server_deleted_at ? e->server_deleted_at : e->at;
		if (deleted_at == NULL && ev->created_at && tb_parse_rfc3339(ev->created_at, &ms) == 0)
			deleted_at = ev->created_at;
		if (deleted_at == NULL) {
			if (tb_format_rfc3339(tb_now_ms() / 1000, del_buf) != 0) {
				snprintf(err, errsz, "the clock is out of range");
				toggl_entry_free(e);
				return -1;
			}
			deleted_at = del_buf;
		}
	}
	p_i64(p, 1, e->id);                                   /* $7 */
	p_i64(p, has_owner, owner);                           /* $8 */
	p_i64(p, e->has_workspace, e->workspace_id);          /* $9 */
	p_i64(p, e->has_project, e->project_id);              /* $10 */
	p_i64(p, e->has_task, e->task_id);                    /* $11 */
	p_str(p, e->description);                             /* $12 */
	p_bool(p, 1, e->billable);                            /* $13 */
	p_str(p, e->start);                                   /* $14 */
	if (e->stop_derived && tb_format_rfc3339(e->stop_ms / 1000, stop_buf) == 0)
		p_str(p, stop_buf);                               /* $15 */
	else
		p_str(p, e->stop);
	p_i64(p, e->has_duration, e->duration);               /* $16 */
	p_json(p, e->tags);                                   /* $17 */
	p_json(p, e->tag_ids);                                /* $18 */
	p_str(p, e->at);                                      /* $19 */
	p_str(p, deleted_at);                                 /* $20 */
	return deleted;
}

/* Parameters of a project, client or tag event from $7 on; the statement to run, or STMT__MAX with err. */
static enum stmt
meta_params(struct params *p, const struct toggl_webhook *ev, int deleted, char rate[32], char *err,
    size_t errsz)
{
	json_t *o = ev->payload;
	int64_t id = 0, ws = 0, client = 0;
	int has_ws, has_client, b;
	json_t *v;

	if ((o == NULL || toggl_json_id(o, "id", 0, &id) != 1) && (id = ev->object_id) <= 0) {
		snprintf(err, errsz, "the %s event names no id", ev->model);
		return STMT__MAX;
	}
	has_ws = o && (toggl_json_id(o, "workspace_id", 0, &ws) == 1 || toggl_json_id(o, "wid", 0, &ws) == 1);
	p_i64(p, 1, id);                                       /* $7 */
	p_i64(p, has_ws, ws);                                  /* $8 */
	if (strcmp(ev->model, "project") == 0) {
		has_client = o && (toggl_json_id(o, "client_id", 0, &client) == 1 ||
		    toggl_json_id(o, "cid", 0, &client) == 1);
		p_i64(p, has_client, client);                      /* $9 */
		p_str(p, o ? meta_str(o, "name") : NULL);          /* $10 */
		p_str(p, o ? meta_str(o, "color") : NULL);         /* $11 */
		b = o ? meta_bool(o, "active") : -1;
		p_bool(p, b >= 0, b);                              /* $12 */
		b = o ? meta_bool(o, "billable") : -1;
		p_bool(p, b >= 0, b);                              /* $13 */
		/* numeric(12, 2): a rate outside it is not a rate we can keep; unknown rather than an error. */
		v = o ? json_object_get(o, "rate") : NULL;
		if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < 1e10) {
			snprintf(rate, 32, "%.2f", json_number_value(v));
			p_str(p, rate);                                /* $14 */
		} else
			p_str(p, NULL);
		p_str(p, o ? meta_str(o, "currency") : NULL);      /* $15 */
		p_str(p, o ? meta_time(o, "at") : NULL);           /* $16 */
		p_bool(p, 1, deleted || (o && meta_time(o, "server_deleted_at")));   /* $17 */
		return STMT_WEBHOOK_PROJECT;
	}
	if (strcmp(ev->model, "client") == 0) {
		p_str(p, o ? meta_str(o, "name") : NULL);          /* $9 */
		b = o ? meta_bool(o, "archived") : -1;
		p_bool(p, b >= 0, b);                              /* $10 */
		p_str(p, o ? meta_time(o, "at") : NULL);           /* $11 */
		p_bool(p, 1, deleted || (o && meta_time(o, "server_deleted_at")));   /* $12 */
		return STMT_WEBHOOK_CLIENT;
	}
	p_str(p, o ? meta_str(o, "name") : NULL);              /* $9 */
	p_str(p, o ? meta_time(o, "at") : NULL);               /* $10 */
	p_bool(p, 1, deleted || (o && meta_time(o, "deleted_at")));   /* $11 */
	return STMT_WEBHOOK_TAG;
}

static int
is(const char *s, const char *want)
{
	return s != NULL && strcmp(s, want) == 0;
}

/* What became of one event in the database, before it is answered. */
struct outcome {
	enum { OUTCOME_DONE, OUTCOME_REFUSED, OUTCOME_DB_DOWN } kind;
	int  live;          /* the subscription is live (else the token is gone: 404) */
	char result[12];    /* as recorded; "" for a duplicate */
	int  changed;       /* the row changed */
	int  queued;        /* this event queued the batched metadata refresh */
};

/* The outcome of result row `row`, whose columns from `col` on are (live, result, changed[, queued]). */
static void
outcome_read(struct outcome *o, const PGresult *res, int row, int col)
{
	const char *result = db_str(res, row, col + 1);

	o->kind = OUTCOME_DONE;
	o->live = db_i64(res, row, col) > 0;
	snprintf(o->result, sizeof(o->result), "%s", result ? result : "");
	o->changed = db_i64(res, row, col + 2) > 0;
	o->queued = PQnfields(res) > col + 3 && db_bool(res, row, col + 3);
}

/* The outcome of a failed statement: class 22 is bad data (a value PostgreSQL refuses), which the same
 * body would hit forever; anything else is ours, and Toggl should deliver again later. */
static void
outcome_failed(struct outcome *o, struct db *db, const char *rid)
{
	memset(o, 0, sizeof(*o));
	if (strncmp(db_sqlstate(db), "22", 2) == 0) {
		log_warn(rid, "webhook: event refused by the database: %s", db->err);
		o->kind = OUTCOME_REFUSED;
	} else {
		log_error(rid, "webhook: %s", db->err);
		o->kind = OUTCOME_DB_DOWN;
	}
}

/* Run one event statement (not an entry upsert: those go through the group, below). */
static void
exec_event(struct db *db, const char *rid, enum stmt s, const struct params *p, struct outcome *o)
{
	PGresult *res = db_exec(db, s, p->v, p->n);

	if (res == NULL) {
		outcome_failed(o, db, rid);
		return;
	}
	outcome_read(o, res, 0, 0);
	PQclear(res);
}

/* Answer an event from its outcome. Returns the metrics result. */
static enum webhook_result
answer(struct req *r, const char *hash, const struct params *p, const struct outcome *o)
{
	const char *result = o->result[0] ? o->result : "duplicate";
	enum webhook_result wr;

	if (o->kind == OUTCOME_REFUSED) {
		resp_json_error(r, 400, "BAD_EVENT", "The event has a value the database refuses.");
		return WEBHOOK_BAD_JSON;
	}
	if (o->kind == OUTCOME_DB_DOWN) {
		resp_json_error(r, 503, "DB_DOWN", "database unavailable; deliver again later");
		return WEBHOOK_DB_ERROR;
	}
	if (!o->live) {
		cache_drop(hash);
		resp_json_error(r, 404, "NOT_FOUND", "no such webhook");
		return WEBHOOK_UNKNOWN_TOKEN;
	}
	/* The recorded result was judged on the statement's snapshot; what the row lock let through is the
	 * truth for the answer (they differ only when a concurrent delivery changed the same object). */
	if (o->changed)
		result = "applied";
	else if (strcmp(result, "applied") == 0) {
		log_info(r->id, "webhook: event %s lost a race to a concurrent change: recorded as applied, was stale",
		    p->v[1]);
		result = "stale";
	}
	if (strcmp(result, "duplicate") == 0)
		wr = WEBHOOK_DUPLICATE;
	else if (strcmp(result, "applied") == 0 || strcmp(result, "unchanged") == 0)
		wr = WEBHOOK_ACCEPTED;
	else if (strcmp(result, "stale") == 0)
		wr = WEBHOOK_STALE;
	else
		wr = WEBHOOK_IGNORED;
	log_debug(r->id, "webhook: event %s %s/%s: %s", p->v[1], p->v[3] ? p->v[3] : "-",
	    p->v[4] ? p->v[4] : "-", result);
	if (o->queued)
		log_info(r->id, "webhook: event %s names a project or tag we do not know: metadata refresh queued",
		    p->v[1]);
	reply_ok(r, result);
	return wr;
}

/*
 * Entry upserts, the bulk of all deliveries, are group-committed (db_group.c): concurrent deliveries
 * share one STMT_WEBHOOK_ENTRY_BATCH and one commit, each judged and answered as if alone. A batch that
 * fails is run again one event at a time, so one bad event (a value PostgreSQL refuses) costs the others
 * nothing and gets its own 400.
 */
struct upsert {
	struct db_group_item item;    /* first member: run_upserts() converts back */
	const char          *rid;     /* its request, for log lines */
	const char          *body;
	size_t               body_len;
	const struct params *p;
	struct outcome       out;
};

/* A parameter as a JSON value: NULL → null; numbers, booleans and JSON text as they are; else a string. */
static void
js_value(struct buf *b, const char *v, int quote)
{
	if (v == NULL)
		buf_puts(b, "null");
	else if (quote)
		buf_json_string(b, v);
	else
		buf_puts(b, v);
}

/* STMT_WEBHOOK_ENTRY_BATCH's fields, by name, and the parameter ($n - 1) each comes from. */
static const struct {
	const char *name;
	int         param;
	int         quote;
} upsert_fields[] = {
	{ "sub", 0, 0 }, { "event_id", 1, 0 }, { "model", 3, 1 }, { "action", 4, 1 }, { "id", 6, 0 },
	{ "owner", 7, 0 }, { "ws", 8, 0 }, { "project_id", 9, 0 }, { "task_id", 10, 0 },
	{ "description", 11, 1 }, { "billable", 12, 0 }, { "start", 13, 1 }, { "stop", 14, 1 },
	{ "duration", 15, 0 }, { "tags", 16, 0 }, { "tag_ids", 17, 0 }, { "at", 18, 1 },
};

/* Run items as one statement; 0, or -1 when it failed (db->err and db_sqlstate() say why). */
static int
upsert_batch(struct db *db, struct upsert **u, int n)
{
	struct buf js = BUF_INIT, subs = BUF_INIT, ids = BUF_INIT;
	char touch[DB_I64_LEN], delay[DB_I64_LEN];
	PGresult *res = NULL;
	int rc = -1;

	buf_putc(&js, '[');
	buf_putc(&subs, '{');
	buf_putc(&ids, '{');
	for (int i = 0; i < n; i++) {
		const char *const *v = u[i]->p->v;

		buf_puts(&js, i ? ",[" : "[");
		buf_append(&js, u[i]->body, u[i]->body_len);   /* JSON already (jansson parsed it): kept as sent */
		for (size_t f = 0; f < sizeof(upsert_fields) / sizeof(upsert_fields[0]); f++) {
			buf_puts(&js, f ? ",\"" : ",{\"");
			buf_puts(&js, upsert_fields[f].name);
			buf_puts(&js, "\":");
			js_value(&js, v[upsert_fields[f].param], upsert_fields[f].quote);
		}
		buf_puts(&js, "}]");
		buf_printf(&subs, "%s%s", i ? "," : "", v[0]);
		buf_printf(&ids, "%s%s", i ? "," : "", v[6]);
	}
	buf_putc(&js, ']');
	buf_putc(&subs, '}');
	buf_putc(&ids, '}');
	if (js.oom || subs.oom || ids.oom)
		snprintf(db->err, sizeof(db->err), "webhook batch: out of memory");
	else if ((res = DB_EXEC(db, STMT_WEBHOOK_ENTRY_BATCH, js.data, subs.data, ids.data,
	    db_i64s(LIMIT_WEBHOOK_TOUCH_S, touch), db_i64s(LIMIT_TOGGL_METADATA_DELAY_S, delay))) != NULL) {
		if (PQntuples(res) == n) {
			for (int i = 0; i < n; i++)
				outcome_read(&u[i]->out, res, i, 1);
			rc = 0;
		} else
			snprintf(db->err, sizeof(db->err), "webhook batch: %d rows for %d events", PQntuples(res), n);
		PQclear(res);
	}
	buf_free(&js);
	buf_free(&subs);
	buf_free(&ids);
	return rc;
}

static void
run_upserts(struct db *db, struct db_group_item **items, int n)
{
	struct upsert *u[LIMIT_DB_GROUP_MAX];
	const char *state;
	int ok, split;

	for (int i = 0; i < n; i++)
		u[i] = (struct upsert *)(void *)items[i];   /* the item is the first member */
	ok = upsert_batch(db, u, n) == 0;
	/* Only an event can be to blame for an error the server raised about the statement. A lost or
	 * refused connection (no SQLSTATE, class 08) or class 57 (a shutdown, or the statement timeout while
	 * waiting on a lock) fails every event alike: running them one by one would only wait it out once per
	 * event. Toggl delivers them again. */
	state = db_sqlstate(db);
	split = !ok && n > 1 && db_ok(db) && state[0] && strncmp(state, "08", 2) != 0 && strncmp(state, "57", 2) != 0;
	metrics_webhook_batch(n, split);
	if (ok)
		return;
	if (!split) {
		for (int i = 0; i < n; i++)
			outcome_failed(&u[i]->out, db, u[i]->rid);
		return;
	}
	log_info(u[0]->rid, "webhook: a batch of %d events failed (%s); running them one by one", n, db->err);
	for (int i = 0; i < n; i++)
		if (upsert_batch(db, &u[i], 1) != 0)
			outcome_failed(&u[i]->out, db, u[i]->rid);
}

static struct db_group upserts = DB_GROUP_INIT(run_upserts);

static enum webhook_result
run_event(struct req *r, const char *hash, enum stmt s, const struct params *p, int64_t entry_id)
{
	struct upsert u;

	memset(&u, 0, sizeof(u));
	if (s == STMT_WEBHOOK_ENTRY_BATCH) {
		u.item.key = entry_id;
		u.rid = r->id;
		u.body = r->body;
		u.body_len = r->body_len;
		u.p = p;
		db_group_submit(&upserts, r->db, &u.item);
	} else
		exec_event(r->db, r->id, s, p, &u.out);
	return answer(r, hash, p, &u.out);
}

static enum webhook_result
handle_ping(struct req *r, const char *hash, const struct sub *sub, const struct toggl_webhook *ev)
{
	char id[DB_I64_LEN];
	PGresult *res;
	int64_t live;

	res = DB_EXEC(r->db, STMT_WEBHOOK_PING, db_i64s(sub->id, id), r->body, ev->validation_code ? "true" : "false");
	if (res == NULL) {
		log_error(r->id, "webhook: ping: %s", r->db->err);
		resp_json_error(r, 503, "DB_DOWN", "database unavailable; deliver again later");
		return WEBHOOK_DB_ERROR;
	}
	live = db_i64(res, 0, 0);
	PQclear(res);
	if (live == 0) {
		cache_drop(hash);
		resp_json_error(r, 404, "NOT_FOUND", "no such webhook");
		return WEBHOOK_UNKNOWN_TOKEN;
	}
	log_info(r->id, "webhook: ping for subscription %lld%s", (long long)sub->id,
	    ev->validation_code ? ", validation code echoed" : "");
	if (ev->validation_code)
		reply_validation(r, ev->validation_code);
	else
		resp_text(r, 200, "ok\n");
	return WEBHOOK_PING;
}

static enum webhook_result
handle_event(struct req *r, const char *hash, const struct sub *sub, const struct toggl_webhook *ev)
{
	struct params p;
	struct toggl_entry e;
	char err[256], stop_buf[TB_RFC3339_SIZE], del_buf[TB_RFC3339_SIZE], rate[32];
	const char *why = NULL;
	enum webhook_result wr;
	enum stmt s = STMT__MAX;
	int deleted = is(ev->action, "deleted"), known_action, rc, have_entry = 0;

	memset(&p, 0, sizeof(p));
	err[0] = '\0';
	p_common(&p, r, sub, ev);
	known_action = deleted || is(ev->action, "created") || is(ev->action, "updated");
	if (is(ev->model, "time_entry") && known_action) {
		if ((rc = entry_params(&p, ev, deleted, &e, stop_buf, del_buf, err, sizeof(err))) < 0)
			why = "invalid";
		else {
			have_entry = 1;
			s = rc ? STMT_WEBHOOK_ENTRY_DELETE : STMT_WEBHOOK_ENTRY_BATCH;
		}
	} else if ((is(ev->model, "project") || is(ev->model, "client") || is(ev->model, "tag")) && known_action) {
		if ((s = meta_params(&p, ev, deleted, rate, err, sizeof(err))) == STMT__MAX)
			why = "invalid";
	} else
		why = "ignored";   /* a model or action we do not keep: recorded, so it can be replayed later */
	if (why) {
		if (err[0])
			log_warn(r->id, "webhook: event %lld (%s/%s) recorded as invalid: %s", (long long)ev->event_id,
			    ev->model ? ev->model : "-", ev->action ? ev->action : "-", err);
		p.n = 6;
		p_str(&p, why);
		s = STMT_WEBHOOK_RECORD;
	}
	wr = run_event(r, hash, s, &p, have_entry ? e.id : 0);
	if (have_entry)
		toggl_entry_free(&e);
	params_free(&p);
	return wr;
}

void
h_webhook_toggl(struct req *r)
{
	const char *token = r->path_args[0], *sig;
	char hash[HASH_HEX], err[256];
	struct sub sub;
	struct toggl_webhook ev;
	json_t *body = NULL;
	enum webhook_result wr;

	memset(&sub, 0, sizeof(sub));
	if (!token_syntax_ok(token)) {
		resp_json_error(r, 404, "NOT_FOUND", "no such webhook");
		wr = WEBHOOK_UNKNOWN_TOKEN;
		goto out;
	}
	crypto_token_hash(token, hash);
	switch (sub_lookup(r, hash, &sub)) {
	case LOOKUP_FOUND:
		break;
	case LOOKUP_UNKNOWN:
		resp_json_error(r, 404, "NOT_FOUND", "no such webhook");
		wr = WEBHOOK_UNKNOWN_TOKEN;
		goto out;
	default:
		resp_json_error(r, 503, "UNAVAILABLE", "cannot check this delivery now; deliver again later");
		wr = WEBHOOK_DB_ERROR;
		goto out;
	}
	if (r->body_too_large) {
		if (confirm_live(r, hash, &sub, &wr) != 0)
			goto out;
		resp_json_error(r, 413, "TOO_LARGE", "the body is larger than %d bytes", LIMIT_BODY_MAX);
		wr = WEBHOOK_TOO_LARGE;
		goto out;
	}
	sig = req_header(r, "X-Webhook-Signature-256");
	if (sig == NULL || !crypto_verify_sha256_header(sig, sub.secret, sub.secret_len, r->body ? r->body : "",
	    r->body_len)) {
		if (confirm_live(r, hash, &sub, &wr) != 0)
			goto out;
		log_info(r->id, "webhook: subscription %lld: %s signature", (long long)sub.id, sig ? "wrong" : "no");
		resp_json_error(r, 401, "BAD_SIGNATURE", "missing or wrong X-Webhook-Signature-256");
		wr = WEBHOOK_BAD_SIGNATURE;
		goto out;
	}
	if (r->body_len == 0 || http_parse_json_body(r->body, r->body_len, &body, err, sizeof(err)) != HTTP_POK) {
		if (confirm_live(r, hash, &sub, &wr) != 0)
			goto out;
		if (r->body_len == 0)
			snprintf(err, sizeof(err), "the body is empty");
		resp_json_error(r, 400, "BAD_JSON", "the body is not JSON: %s", err);
		wr = WEBHOOK_BAD_JSON;
		goto out;
	}
	if (toggl_webhook_parse(body, &ev, err, sizeof(err)) != 0) {
		if (confirm_live(r, hash, &sub, &wr) != 0)
			goto out;
		resp_json_error(r, 400, "BAD_EVENT", "not a Toggl webhook event: %s", err);
		wr = WEBHOOK_BAD_JSON;
		goto out;
	}
	if (ev.kind == TOGGL_EVENT_PING)
		wr = handle_ping(r, hash, &sub, &ev);
	else
		wr = handle_event(r, hash, &sub, &ev);
out:
	metrics_webhook(wr);
	json_decref(body);
	sub_clear(&sub);
}
