/* toggl.c: the Toggl Track client. Every call goes through call(): build the URL under the configured
 * base, send it with Basic auth "<token>:api_token" through the one libcurl wrapper, read the quota
 * headers into the budget of the call's scope, classify the status, and wait inline for transient answers
 * while the caller's max_wait_s allows. Nothing here touches the database: hooks report quota and waits. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/toggl.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/tbtime.h"
#include "util/utf8.h"

#define API_V9      "/api/v9"
#define WEBHOOKS_V1 "/webhooks/api/v1"
#define REPORTS_V3  "/reports/api/v3"

/* What call() expects of a 2xx body. */
enum want { WANT_NONE, WANT_OBJECT, WANT_ARRAY };

static const char *const res_names[API_TOGGL__MAX] = {
	[API_TOGGL_OK] = "ok",
	[API_TOGGL_QUOTA] = "quota used up",
	[API_TOGGL_PAID] = "not on this Toggl plan",
	[API_TOGGL_RATE] = "rate limited",
	[API_TOGGL_UNAVAILABLE] = "Toggl unavailable",
	[API_TOGGL_AUTH] = "credentials refused",
	[API_TOGGL_NOT_FOUND] = "not found",
	[API_TOGGL_REJECTED] = "request rejected",
	[API_TOGGL_GONE] = "endpoint retired",
	[API_TOGGL_BAD_ANSWER] = "unexpected answer",
};

const char *
api_toggl_strerror(enum api_toggl_res r)
{
	return (r >= 0 && r < API_TOGGL__MAX) ? res_names[r] : "unknown";
}

enum api_toggl_res
api_toggl_classify(long status, int has_quota_headers)
{
	if (status >= 200 && status < 300)
		return API_TOGGL_OK;
	switch (status) {
	case 0:
	case 408:
		return API_TOGGL_UNAVAILABLE;
	case 401:
	case 403:
		return API_TOGGL_AUTH;
	case 402:
		/* The same status means "quota used up" and "feature not on your plan"; only the former
		 * carries the quota headers. */
		return has_quota_headers ? API_TOGGL_QUOTA : API_TOGGL_PAID;
	case 404:
		return API_TOGGL_NOT_FOUND;
	case 410:
		return API_TOGGL_GONE;
	case 429:
		return API_TOGGL_RATE;
	default:
		break;
	}
	if (status >= 500 && status < 600)
		return API_TOGGL_UNAVAILABLE;
	if (status >= 400 && status < 500)
		return API_TOGGL_REJECTED;
	return API_TOGGL_BAD_ANSWER;   /* 1xx, 3xx (redirects are never followed), nonsense */
}

/* A whole decimal integer, optional leading '-', surrounding blanks allowed. */
static int
parse_long(const char *s, long *out)
{
	char *end;
	long v;

	if (s == NULL)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
api_toggl_quota_parse(const char *remaining, const char *resets_in, long *rem, long *resets_in_s)
{
	long r, s;

	if (parse_long(remaining, &r) != 0 || parse_long(resets_in, &s) != 0 || s < 0)
		return -1;
	*rem = r;
	*resets_in_s = s;
	return 0;
}

double
api_toggl_backoff_rate(int strikes, double u)
{
	double d = LIMIT_TOGGL_RATE_BACKOFF_MIN_S;

	for (int i = 1; i < strikes && d < LIMIT_TOGGL_RATE_BACKOFF_MAX_S; i++)
		d *= 2;
	if (d > LIMIT_TOGGL_RATE_BACKOFF_MAX_S)
		d = LIMIT_TOGGL_RATE_BACKOFF_MAX_S;
	if (!(u >= 0))
		u = 0;
	if (u >= 1)
		u = 0.999999;
	/* Jitter only upwards: the docs ask for minutes, so nobody comes back before the minimum. */
	return d * (1 + u / 2);
}

double
api_toggl_backoff_5xx(int attempt, double u)
{
	/* The docs ask for a random delay; many clients failing together must not come back together. */
	return tb_backoff_s(LIMIT_TOGGL_5XX_BACKOFF_S, LIMIT_TOGGL_5XX_BACKOFF_MAX_S, attempt, u);
}

long
api_toggl_next_row(const char *value)
{
	long v;

	if (parse_long(value, &v) != 0 || v <= 0)
		return 0;
	return v;
}

/* Copy s (n bytes) into out as one line: valid UTF-8 kept, invalid bytes '?', control characters and
 * runs of blanks one space, trimmed, cut at a character boundary within max chars and outsz. */
static void
one_line(const char *s, size_t n, char *out, size_t outsz, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0, k, chars = 0;
	int space = 1;   /* drops leading blanks */

	if (outsz == 0)
		return;
	while (i < n && chars < max) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == ' ') {
			if (!space && o + 1 < outsz)
				out[o++] = ' ';
			space = 1;
			i++;
			continue;
		}
		space = 0;
		k = tb_utf8_seq(p + i, n - i);
		if (k == 0) {
			if (o + 1 >= outsz)
				break;
			out[o++] = '?';
			i++;
		} else {
			if (o + k >= outsz)
				break;
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
		chars++;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

void
api_toggl_error_text(const char *body, size_t len, char *out, size_t outsz)
{
	const char *p = body;
	json_t *j = NULL, *m;
	json_error_t jerr;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if (body == NULL || len == 0)
		return;
	while (len > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		len--;
	}
	/* Toggl answers errors in plain text; some paths quote it as a JSON string, a few send an object. */
	if (len > 0 && (*p == '"' || *p == '{'))
		j = json_loadb(p, len, JSON_DECODE_ANY, &jerr);
	if (json_is_string(j)) {
		one_line(json_string_value(j), json_string_length(j), out, outsz, LIMIT_TOGGL_ERROR_TEXT);
	} else if (json_is_object(j) && ((m = json_object_get(j, "message")) != NULL ||
	        (m = json_object_get(j, "error")) != NULL || (m = json_object_get(j, "error_message")) != NULL) &&
	    json_is_string(m)) {
		one_line(json_string_value(m), json_string_length(m), out, outsz, LIMIT_TOGGL_ERROR_TEXT);
	} else {
		one_line(p, len, out, outsz, LIMIT_TOGGL_ERROR_TEXT);
	}
	json_decref(j);
}

/* ---- the client ---- */

int
api_toggl_init(struct api_toggl *t, struct http_client *http, const char *base, const char *token)
{
	size_t n, b;

	memset(t, 0, sizeof(*t));
	if (http == NULL || base == NULL || token == NULL)
		return -1;
	n = strlen(token);
	if (n == 0 || n > LIMIT_TOGGL_TOKEN_MAX)
		return -1;
	/* It becomes the user name of Basic auth: no colon, no blanks, no control bytes. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f || token[i] == ':')
			return -1;
	b = strlen(base);
	while (b > 0 && base[b - 1] == '/')
		b--;
	t->http = http;
	t->base = strndup(base, b);
	t->token = strdup(token);
	if (t->base == NULL || t->token == NULL) {
		api_toggl_free(t);
		return -1;
	}
	return 0;
}

void
api_toggl_free(struct api_toggl *t)
{
	free(t->base);
	crypto_free_secret(t->token);
	t->base = NULL;
	t->token = NULL;
}

void
api_toggl_set_org(struct api_toggl *t, int64_t wid, int64_t org)
{
	for (size_t i = 0; i < t->norgs; i++)
		if (t->orgs[i].wid == wid) {
			t->orgs[i].org = org;
			return;
		}
	if (t->norgs < API_TOGGL_ORGS) {
		t->orgs[t->norgs].wid = wid;
		t->orgs[t->norgs].org = org;
		t->norgs++;
	}
}

/* The budget name of a call on workspace wid (0: a user-scoped call). */
static void
bucket_name(const struct api_toggl *t, int64_t wid, char out[API_TOGGL_BUCKET_LEN], int64_t *org)
{
	*org = 0;
	if (wid <= 0) {
		snprintf(out, API_TOGGL_BUCKET_LEN, "user");
		return;
	}
	for (size_t i = 0; i < t->norgs; i++)
		if (t->orgs[i].wid == wid && t->orgs[i].org > 0) {
			*org = t->orgs[i].org;
			snprintf(out, API_TOGGL_BUCKET_LEN, "org:%" PRId64, *org);
			return;
		}
	snprintf(out, API_TOGGL_BUCKET_LEN, "ws:%" PRId64, wid);
}

static struct api_toggl_bucket *
bucket_find(struct api_toggl *t, const char *name, int create)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		if (strcmp(t->buckets[i].name, name) == 0)
			return &t->buckets[i];
	if (!create)
		return NULL;
	if (t->nbuckets == API_TOGGL_BUCKETS) {
		/* Forget the oldest: it only costs one request to learn it again. */
		memmove(&t->buckets[0], &t->buckets[1], (API_TOGGL_BUCKETS - 1) * sizeof(t->buckets[0]));
		t->nbuckets--;
	}
	memset(&t->buckets[t->nbuckets], 0, sizeof(t->buckets[0]));
	snprintf(t->buckets[t->nbuckets].name, API_TOGGL_BUCKET_LEN, "%s", name);
	return &t->buckets[t->nbuckets++];
}

void
api_toggl_seed_bucket(struct api_toggl *t, const struct api_toggl_bucket *b)
{
	struct api_toggl_bucket *d = bucket_find(t, b->name, 1);

	*d = *b;
}

static void
sleep_s(double s)
{
	struct timespec ts;

	if (!(s > 0))
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One request/answer, classified. Fills t->status, t->res, t->err, t->retry_after_s, the budget, and
 * *out on success. tries counts the transient answers of this call so far (for the 5xx backoff). */
static enum api_toggl_res
call_once(struct api_toggl *t, const char *method, const char *url, const char *what, const char *bucket,
    int64_t org, const char *body, enum want want, int tries, json_t **out)
{
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct http_request rq;
	struct http_response rs;
	struct api_toggl_bucket *b;
	enum http_err he;
	json_error_t jerr;
	json_t *j = NULL;
	long rem = 0, resets = 0;   /* set when has_quota; initialised for the compiler's sake */
	int has_quota;
	char text[LIMIT_TOGGL_ERROR_TEXT * 4 + 8];

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.headers = hdrs;
	rq.basic_user = t->token;
	rq.basic_pass = "api_token";
	rq.log_ctx = t->log_ctx;
	if (body != NULL) {
		rq.content_type = "application/json";
		rq.body = body;
		rq.body_len = strlen(body);
	}
	t->requests++;
	t->next_row = 0;
	he = http_do(t->http, &rq, &rs);
	t->status = rs.status;
	if (he != HTTP_OK) {
		http_response_free(&rs);
		t->status = 0;
		snprintf(t->err, sizeof(t->err), "%s: %s", what, http_strerror(he));
		if (he == HTTP_ERR_URL) {
			t->res = API_TOGGL_REJECTED;
		} else if (he == HTTP_ERR_TOO_LARGE) {
			t->res = API_TOGGL_BAD_ANSWER;
		} else {
			t->res = API_TOGGL_UNAVAILABLE;
			t->retry_after_s = api_toggl_backoff_5xx(tries, crypto_rand01());
		}
		return t->res;
	}

	has_quota = api_toggl_quota_parse(http_header(&rs, "X-Toggl-Quota-Remaining"),
	    http_header(&rs, "X-Toggl-Quota-Resets-In"), &rem, &resets) == 0;
	if (has_quota) {
		b = bucket_find(t, bucket, 1);
		b->organization_id = org;
		b->remaining = rem;
		b->resets_at_ms = tb_now_ms() + (int64_t)resets * 1000;
		if (t->on_quota != NULL)
			t->on_quota(t->hook_arg, b);
	}
	t->res = api_toggl_classify(rs.status, has_quota);
	t->next_row = api_toggl_next_row(http_header(&rs, "X-Next-Row-Number"));

	if (t->res == API_TOGGL_OK) {
		t->rate_strikes = 0;
		t->err[0] = '\0';
		if (want != WANT_NONE) {
			if (rs.body.len == 0 || rs.body.data == NULL)
				j = NULL;
			else
				j = json_loadb(rs.body.data, rs.body.len, JSON_DECODE_ANY, &jerr);
			/* Toggl sends null for an empty listing. */
			if (want == WANT_ARRAY && json_is_null(j)) {
				json_decref(j);
				j = json_array();
			}
			if ((want == WANT_ARRAY && !json_is_array(j)) || (want == WANT_OBJECT && !json_is_object(j))) {
				snprintf(t->err, sizeof(t->err), "%s: %ld with a body that is not a JSON %s", what,
				    rs.status, want == WANT_ARRAY ? "array" : "object");
				json_decref(j);
				j = NULL;
				t->res = API_TOGGL_BAD_ANSWER;
			}
		}
		*out = j;
		http_response_free(&rs);
		return t->res;
	}

	api_toggl_error_text(rs.body.data, rs.body.len, text, sizeof(text));
	snprintf(t->err, sizeof(t->err), "%s: %ld %s", what, rs.status, text[0] ? text : "(no message)");
	switch (t->res) {
	case API_TOGGL_QUOTA:
		t->retry_after_s = (double)resets + 1;
		break;
	case API_TOGGL_RATE:
		t->rate_strikes++;
		t->retry_after_s = api_toggl_backoff_rate(t->rate_strikes, crypto_rand01());
		break;
	case API_TOGGL_UNAVAILABLE:
		t->retry_after_s = api_toggl_backoff_5xx(tries, crypto_rand01());
		break;
	default:
		t->retry_after_s = 0;
		break;
	}
	http_response_free(&rs);
	return t->res;
}

/* Run one call with inline waits for transient answers. path is below the base (with its query); wid
 * names the organisation budget (0: user-scoped). body, when non-NULL, is sent as JSON. */
static enum api_toggl_res
call(struct api_toggl *t, const char *method, const char *path, int64_t wid, const json_t *body,
    enum want want, json_t **out)
{
	char bucket[API_TOGGL_BUCKET_LEN], what[256], why[sizeof(t->err) + 200];
	struct api_toggl_bucket *b;
	struct buf url = BUF_INIT;
	char *text = NULL;
	double waited = 0;
	int64_t org, now;
	int tries = 0;
	const char *q;

	*out = NULL;
	t->err[0] = '\0';
	t->retry_after_s = 0;
	/* The query can be long and says little: the user sees the method and the path. */
	q = strchr(path, '?');
	snprintf(what, sizeof(what), "%s %.*s", method, (int)(q ? (size_t)(q - path) : strlen(path)), path);
	buf_puts(&url, t->base);
	buf_puts(&url, path);
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL)
		url.oom = 1;
	if (url.oom) {
		snprintf(t->err, sizeof(t->err), "%s: out of memory", what);
		t->res = API_TOGGL_UNAVAILABLE;
		t->retry_after_s = LIMIT_TOGGL_5XX_BACKOFF_S;
		goto out;
	}
	bucket_name(t, wid, bucket, &org);
	t->user_scoped = wid <= 0;
	for (;;) {
		now = tb_now_ms();
		b = bucket_find(t, bucket, 0);
		if (b != NULL && b->remaining <= 0 && b->resets_at_ms > now) {
			/* Known to be empty: asking would only earn a 402. */
			t->res = API_TOGGL_QUOTA;
			t->status = 0;
			t->retry_after_s = (double)(b->resets_at_ms - now) / 1000.0 + 1;
			snprintf(t->err, sizeof(t->err), "%s: Toggl quota (%s budget) used up", what, bucket);
		} else {
			tries++;
			call_once(t, method, url.data, what, bucket, org, text, want, tries, out);
		}
		if (!API_TOGGL_TRANSIENT(t->res) || tries >= LIMIT_TOGGL_TRIES ||
		    waited + t->retry_after_s > t->max_wait_s)
			break;
		switch (t->res) {
		case API_TOGGL_QUOTA:
			snprintf(why, sizeof(why), "Toggl quota (%s budget) used up: waiting %.0f s for the reset (%s)",
			    bucket, t->retry_after_s, t->err);
			break;
		case API_TOGGL_RATE:
			snprintf(why, sizeof(why), "Toggl rate limit (429): backing off %.0f s (%s)", t->retry_after_s,
			    t->err);
			break;
		default:
			snprintf(why, sizeof(why), "Toggl unavailable: retrying in %.1f s (%s)", t->retry_after_s, t->err);
			break;
		}
		log_info(t->log_ctx, "%s", why);
		if (t->on_wait != NULL && t->on_wait(t->hook_arg, why, t->retry_after_s) != 0)
			break;
		sleep_s(t->retry_after_s);
		waited += t->retry_after_s;
		t->waits++;
		t->waited_s += t->retry_after_s;
	}
	if (t->res != API_TOGGL_OK)
		log_debug(t->log_ctx, "toggl: %s", t->err);
out:
	/* Bodies can carry a webhook secret. */
	if (text != NULL)
		crypto_wipe(text, strlen(text));
	free(text);
	buf_free(&url);
	return t->res;
}

/* A bodiless call whose answer body does not matter (only its status does). */
static enum api_toggl_res
call_no_answer(struct api_toggl *t, const char *method, const char *path, int64_t wid)
{
	json_t *ignored = NULL;
	enum api_toggl_res r;

	r = call(t, method, path, wid, NULL, WANT_NONE, &ignored);
	json_decref(ignored);
	return r;
}

enum api_toggl_res
api_toggl_me(struct api_toggl *t, json_t **out)
{
	return call(t, "GET", API_V9 "/me", 0, NULL, WANT_OBJECT, out);
}

enum api_toggl_res
api_toggl_organizations(struct api_toggl *t, json_t **out)
{
	return call(t, "GET", API_V9 "/me/organizations", 0, NULL, WANT_ARRAY, out);
}

enum api_toggl_res
api_toggl_workspaces(struct api_toggl *t, json_t **out)
{
	return call(t, "GET", API_V9 "/me/workspaces", 0, NULL, WANT_ARRAY, out);
}

enum api_toggl_res
api_toggl_projects(struct api_toggl *t, int64_t wid, int page, int per_page, json_t **out)
{
	char path[160];

	if (per_page < 1 || per_page > LIMIT_TOGGL_PER_PAGE)
		per_page = LIMIT_TOGGL_PER_PAGE;
	/* active=both: archived projects still name old entries. */
	snprintf(path, sizeof(path), API_V9 "/workspaces/%" PRId64 "/projects?active=both&page=%d&per_page=%d",
	    wid, page < 1 ? 1 : page, per_page);
	return call(t, "GET", path, wid, NULL, WANT_ARRAY, out);
}

enum api_toggl_res
api_toggl_clients(struct api_toggl *t, int64_t wid, json_t **out)
{
	char path[128];

	snprintf(path, sizeof(path), API_V9 "/workspaces/%" PRId64 "/clients?status=both", wid);
	return call(t, "GET", path, wid, NULL, WANT_ARRAY, out);
}

enum api_toggl_res
api_toggl_tags(struct api_toggl *t, int64_t wid, int page, int per_page, json_t **out)
{
	char path[160];

	if (per_page < 1 || per_page > LIMIT_TOGGL_PER_PAGE)
		per_page = LIMIT_TOGGL_PER_PAGE;
	snprintf(path, sizeof(path), API_V9 "/workspaces/%" PRId64 "/tags?page=%d&per_page=%d", wid,
	    page < 1 ? 1 : page, per_page);
	return call(t, "GET", path, wid, NULL, WANT_ARRAY, out);
}

enum api_toggl_res
api_toggl_time_entries(struct api_toggl *t, const struct api_toggl_entries_query *q, json_t **out)
{
	char path[256], a[TB_RFC3339_SIZE], b[TB_RFC3339_SIZE];
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), API_V9 "/me/time_entries");
	if (q->since > 0)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "?since=%" PRId64, q->since);
	if (q->start > 0 && q->end > q->start) {
		/* RFC 3339 with seconds: a date-only end_date would cut the whole last day. '+' never appears
		 * (UTC "Z"), so nothing needs escaping. */
		if (tb_format_rfc3339(q->start, a) != 0 || tb_format_rfc3339(q->end, b) != 0) {
			*out = NULL;
			snprintf(t->err, sizeof(t->err), "time entries window out of range");
			return t->res = API_TOGGL_REJECTED;
		}
		snprintf(path + n, sizeof(path) - n, "%sstart_date=%s&end_date=%s", q->since > 0 ? "&" : "?", a, b);
	}
	return call(t, "GET", path, 0, NULL, WANT_ARRAY, out);
}

enum api_toggl_res
api_toggl_time_entry(struct api_toggl *t, int64_t id, json_t **out)
{
	char path[96];

	snprintf(path, sizeof(path), API_V9 "/me/time_entries/%" PRId64, id);
	return call(t, "GET", path, 0, NULL, WANT_OBJECT, out);
}

enum api_toggl_res
api_toggl_subscriptions(struct api_toggl *t, int64_t wid, json_t **out)
{
	char path[96];

	snprintf(path, sizeof(path), WEBHOOKS_V1 "/subscriptions/%" PRId64, wid);
	return call(t, "GET", path, wid, NULL, WANT_ARRAY, out);
}

enum api_toggl_res
api_toggl_subscription_create(struct api_toggl *t, int64_t wid, const json_t *body, json_t **out)
{
	char path[96];

	snprintf(path, sizeof(path), WEBHOOKS_V1 "/subscriptions/%" PRId64, wid);
	return call(t, "POST", path, wid, body, WANT_OBJECT, out);
}

enum api_toggl_res
api_toggl_subscription_update(struct api_toggl *t, int64_t wid, int64_t sid, const json_t *body, json_t **out)
{
	char path[128];

	snprintf(path, sizeof(path), WEBHOOKS_V1 "/subscriptions/%" PRId64 "/%" PRId64, wid, sid);
	return call(t, "PUT", path, wid, body, WANT_OBJECT, out);
}

enum api_toggl_res
api_toggl_subscription_enable(struct api_toggl *t, int64_t wid, int64_t sid, int enabled, json_t **out)
{
	char path[128];
	json_t *body = json_pack("{sb}", "enabled", enabled);
	enum api_toggl_res r;

	snprintf(path, sizeof(path), WEBHOOKS_V1 "/subscriptions/%" PRId64 "/%" PRId64, wid, sid);
	if (body == NULL) {
		*out = NULL;
		snprintf(t->err, sizeof(t->err), "out of memory");
		return t->res = API_TOGGL_UNAVAILABLE;
	}
	r = call(t, "PATCH", path, wid, body, WANT_OBJECT, out);
	json_decref(body);
	return r;
}

enum api_toggl_res
api_toggl_subscription_delete(struct api_toggl *t, int64_t wid, int64_t sid)
{
	char path[128];

	snprintf(path, sizeof(path), WEBHOOKS_V1 "/subscriptions/%" PRId64 "/%" PRId64, wid, sid);
	return call_no_answer(t, "DELETE", path, wid);
}

enum api_toggl_res
api_toggl_subscription_ping(struct api_toggl *t, int64_t wid, int64_t sid)
{
	char path[128];

	snprintf(path, sizeof(path), WEBHOOKS_V1 "/ping/%" PRId64 "/%" PRId64, wid, sid);
	return call_no_answer(t, "POST", path, wid);
}

enum api_toggl_res
api_toggl_limits(struct api_toggl *t, int64_t wid, long *max_webhooks, long *max_events)
{
	char path[96];
	json_t *j = NULL, *h, *e;
	enum api_toggl_res r;

	snprintf(path, sizeof(path), WEBHOOKS_V1 "/limits/%" PRId64, wid);
	if ((r = call(t, "GET", path, wid, NULL, WANT_OBJECT, &j)) != API_TOGGL_OK)
		return r;
	h = json_object_get(j, "max_webhooks");
	e = json_object_get(j, "max_events_per_webhook");
	if (!json_is_integer(h) || !json_is_integer(e) || json_integer_value(h) < 0 || json_integer_value(e) < 0) {
		snprintf(t->err, sizeof(t->err), "GET /limits/%" PRId64 ": no max_webhooks/max_events_per_webhook", wid);
		json_decref(j);
		return t->res = API_TOGGL_BAD_ANSWER;
	}
	*max_webhooks = (long)json_integer_value(h);
	*max_events = (long)json_integer_value(e);
	json_decref(j);
	return r;
}

enum api_toggl_res
api_toggl_reports_search(struct api_toggl *t, int64_t wid, const json_t *body, json_t **out)
{
	char path[128];

	snprintf(path, sizeof(path), REPORTS_V3 "/workspace/%" PRId64 "/search/time_entries", wid);
	return call(t, "POST", path, wid, body, WANT_ARRAY, out);
}
