/* google.c: the Google OAuth token endpoint and Calendar API v3 client (see google.h): requests built from
 * the configured base URLs, answers classified from Google's error bodies. Parsing is pure and fuzzed
 * (tests/fuzz/fuzz_google_error.c). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/google.h"
#include "util/buf.h"
#include "util/conf.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/tbtime.h"
#include "util/utf8.h"

#define DEFAULT_EXPIRES_IN 3599

static const char *const res_names[API_GOOGLE__MAX] = {
	[API_GOOGLE_OK] = "ok",
	[API_GOOGLE_AUTH] = "unauthorized",
	[API_GOOGLE_RATE] = "rate limited",
	[API_GOOGLE_FORBIDDEN] = "forbidden",
	[API_GOOGLE_NOT_FOUND] = "not found",
	[API_GOOGLE_GONE] = "gone",
	[API_GOOGLE_DUPLICATE] = "duplicate",
	[API_GOOGLE_CONFLICT] = "conflict",
	[API_GOOGLE_BAD_REQUEST] = "bad request",
	[API_GOOGLE_SERVER] = "server error",
	[API_GOOGLE_NETWORK] = "no answer",
	[API_GOOGLE_INVALID_GRANT] = "invalid grant",
	[API_GOOGLE_INVALID_CLIENT] = "invalid client",
	[API_GOOGLE_BAD_ANSWER] = "bad answer",
};

const char *
api_google_res_name(enum api_google_res r)
{
	return r >= 0 && r < API_GOOGLE__MAX ? res_names[r] : "unknown";
}

/* Copy text for a person (and a PostgreSQL text column): valid UTF-8 only, control characters as spaces,
 * never cut inside a character. dst is always NUL-terminated. */
static void
copy_text(char *dst, size_t dstsz, const char *src, size_t n)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0, k;

	if (dstsz == 0)
		return;
	while (n > 0 && o + 1 < dstsz) {
		k = tb_utf8_seq(p, n);
		if (k == 0) {
			dst[o++] = '?';
			p++;
			n--;
			continue;
		}
		if (o + k >= dstsz)
			break;
		if (k == 1)
			dst[o++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
		else {
			memcpy(dst + o, p, k);
			o += k;
		}
		p += k;
		n -= k;
	}
	dst[o] = '\0';
}

static void
copy_json_str(char *dst, size_t dstsz, json_t *v)
{
	if (json_is_string(v))
		copy_text(dst, dstsz, json_string_value(v), json_string_length(v));
}

/* The Calendar API error body: {"error": {"errors": [{"domain", "reason", "message"}], "code", "message"}}. */
static void
parse_api_error(json_t *root, struct api_google_error *out)
{
	json_t *e = json_object_get(root, "error"), *errs, *first;

	if (!json_is_object(e)) {
		/* Some front ends answer OAuth-style even on API paths. */
		if (json_is_string(e))
			copy_json_str(out->reason, sizeof(out->reason), e);
		copy_json_str(out->message, sizeof(out->message), json_object_get(root, "error_description"));
		return;
	}
	errs = json_object_get(e, "errors");
	first = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
	if (json_is_object(first)) {
		copy_json_str(out->reason, sizeof(out->reason), json_object_get(first, "reason"));
		copy_json_str(out->message, sizeof(out->message), json_object_get(first, "message"));
	}
	if (out->reason[0] == '\0')
		copy_json_str(out->reason, sizeof(out->reason), json_object_get(e, "status"));
	if (out->message[0] == '\0')
		copy_json_str(out->message, sizeof(out->message), json_object_get(e, "message"));
}

static int
is_rate_reason(const char *r)
{
	return strcmp(r, "rateLimitExceeded") == 0 || strcmp(r, "userRateLimitExceeded") == 0 ||
	    strcmp(r, "quotaExceeded") == 0;
}

enum api_google_res
api_google_classify(long status, const char *body, size_t len, int token_endpoint, struct api_google_error *out)
{
	json_error_t jerr;
	json_t *root = NULL;
	const char *r;

	memset(out, 0, sizeof(*out));
	out->status = status;
	if (status >= 200 && status < 300) {
		out->res = API_GOOGLE_OK;
		return out->res;
	}
	if (body != NULL && len > 0)
		root = json_loadb(body, len, 0, &jerr);
	if (json_is_object(root)) {
		if (token_endpoint) {
			copy_json_str(out->reason, sizeof(out->reason), json_object_get(root, "error"));
			copy_json_str(out->message, sizeof(out->message), json_object_get(root, "error_description"));
			if (out->reason[0] == '\0' && json_is_object(json_object_get(root, "error")))
				parse_api_error(root, out);
		} else
			parse_api_error(root, out);
	} else if (body != NULL && len > 0)
		copy_text(out->message, sizeof(out->message), body, len > 200 ? 200 : len);
	json_decref(root);
	r = out->reason;

	if (status >= 500 && status < 600)
		out->res = API_GOOGLE_SERVER;
	else if (token_endpoint) {
		if (strcmp(r, "invalid_grant") == 0 || strcmp(r, "invalid_token") == 0)
			out->res = API_GOOGLE_INVALID_GRANT;
		else if (strcmp(r, "invalid_client") == 0 || strcmp(r, "unauthorized_client") == 0 || status == 401)
			out->res = API_GOOGLE_INVALID_CLIENT;
		else if (status == 429)
			out->res = API_GOOGLE_RATE;
		else if (status >= 400 && status < 500)
			out->res = API_GOOGLE_BAD_REQUEST;
		else
			out->res = API_GOOGLE_BAD_ANSWER;
	} else if (status == 401)
		out->res = API_GOOGLE_AUTH;
	else if (status == 429 || (status == 403 && is_rate_reason(r)))
		out->res = API_GOOGLE_RATE;
	else if (status == 403)
		out->res = API_GOOGLE_FORBIDDEN;
	else if (status == 404)
		out->res = API_GOOGLE_NOT_FOUND;
	else if (status == 410)
		out->res = API_GOOGLE_GONE;
	else if (status == 409)
		out->res = strcmp(r, "duplicate") == 0 ? API_GOOGLE_DUPLICATE : API_GOOGLE_CONFLICT;
	else if (status == 412)
		out->res = API_GOOGLE_CONFLICT;
	else if (status >= 400 && status < 500)
		out->res = API_GOOGLE_BAD_REQUEST;
	else
		out->res = API_GOOGLE_BAD_ANSWER;
	if (out->message[0] == '\0')
		snprintf(out->message, sizeof(out->message), "HTTP %ld", status);
	return out->res;
}

/* A bearer or refresh token as Google issues them: printable ASCII without spaces or quotes. */
static int
token_ok(const char *s, size_t n)
{
	if (n == 0 || n > LIMIT_GOOGLE_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

void
api_google_token_free(struct api_google_token *t)
{
	if (t == NULL)
		return;
	crypto_free_secret(t->access_token);
	crypto_free_secret(t->refresh_token);
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

int
api_google_token_parse(const char *body, size_t len, struct api_google_token *out, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root = NULL, *v;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (body == NULL || (root = json_loadb(body, len, 0, &jerr)) == NULL || !json_is_object(root)) {
		snprintf(err, errsz, "the token endpoint answered something that is not a JSON object");
		goto out;
	}
	v = json_object_get(root, "access_token");
	if (!json_is_string(v) || !token_ok(json_string_value(v), json_string_length(v))) {
		snprintf(err, errsz, "the token answer has no usable access_token");
		goto out;
	}
	if ((out->access_token = strdup(json_string_value(v))) == NULL)
		goto oom;
	v = json_object_get(root, "refresh_token");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !token_ok(json_string_value(v), json_string_length(v))) {
			snprintf(err, errsz, "the token answer has an unusable refresh_token");
			goto out;
		}
		if ((out->refresh_token = strdup(json_string_value(v))) == NULL)
			goto oom;
	}
	v = json_object_get(root, "token_type");
	if (v != NULL && (!json_is_string(v) || strcasecmp(json_string_value(v), "Bearer") != 0)) {
		snprintf(err, errsz, "the token answer's token_type is not Bearer");
		goto out;
	}
	v = json_object_get(root, "scope");
	if (json_is_string(v)) {
		char tmp[1024];
		copy_text(tmp, sizeof(tmp), json_string_value(v), json_string_length(v));
		out->scope = strdup(tmp);
	} else
		out->scope = strdup("");
	if (out->scope == NULL)
		goto oom;
	v = json_object_get(root, "expires_in");
	out->expires_in = DEFAULT_EXPIRES_IN;
	/* Some servers send the number as a string; anything absurd falls back to Google's usual hour. */
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 7 * 86400)
		out->expires_in = json_integer_value(v);
	else if (json_is_string(v)) {
		char *end;
		long long n = strtoll(json_string_value(v), &end, 10);
		if (*end == '\0' && n > 0 && n <= 7 * 86400)
			out->expires_in = n;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errsz, "out of memory");
out:
	if (root != NULL) {
		/* The parsed tree holds the tokens too. */
		v = json_object_get(root, "access_token");
		if (json_is_string(v))
			crypto_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
		v = json_object_get(root, "refresh_token");
		if (json_is_string(v))
			crypto_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
		json_decref(root);
	}
	if (rc != 0)
		api_google_token_free(out);
	return rc;
}

int
api_google_has_scope(const char *scopes, const char *scope)
{
	size_t n = strlen(scope);
	const char *p = scopes;

	if (p == NULL || n == 0)
		return 0;
	while (*p) {
		size_t w;
		while (*p == ' ')
			p++;
		w = strcspn(p, " ");
		if (w == n && strncmp(p, scope, n) == 0)
			return 1;
		p += w;
	}
	return 0;
}

/* ---- transport ----------------------------------------------------------------------------------- */

/* One request; classifies into g->err. On API_GOOGLE_OK and want_json, *out is the parsed body (a JSON
 * value; an empty body is a bad answer). */
static enum api_google_res
call(struct api_google *g, const struct http_request *rq, int token_endpoint, int want_json, json_t **out,
    struct http_response *keep)
{
	struct http_response resp;
	enum http_err he;
	json_error_t jerr;
	int64_t t0 = tb_mono_ms();

	if (out)
		*out = NULL;
	memset(&g->err, 0, sizeof(g->err));
	memset(&resp, 0, sizeof(resp));
	g->requests++;
	he = http_do(g->http, rq, &resp);
	g->ms = (double)(tb_mono_ms() - t0);
	if (he != HTTP_OK) {
		g->err.res = he == HTTP_ERR_URL ? API_GOOGLE_BAD_REQUEST : API_GOOGLE_NETWORK;
		g->err.status = resp.status;
		snprintf(g->err.message, sizeof(g->err.message), "%s %s: %s", rq->method ? rq->method : "GET",
		    token_endpoint ? "token endpoint" : "Calendar API", http_strerror(he));
		goto out;
	}
	api_google_classify(resp.status, resp.body.data, resp.body.len, token_endpoint, &g->err);
	if (g->err.res == API_GOOGLE_OK && want_json && out) {
		if (resp.body.data == NULL || (*out = json_loadb(resp.body.data, resp.body.len, 0, &jerr)) == NULL ||
		    !json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
			g->err.res = API_GOOGLE_BAD_ANSWER;
			snprintf(g->err.message, sizeof(g->err.message), "Google answered %ld with a body that is not "
			    "a JSON object", resp.status);
		}
	}
out:
	log_debug(g->log_ctx, "google %s %s: %ld %s (%.1f ms)", rq->method ? rq->method : "GET",
	    token_endpoint ? "token" : "api", g->err.status, api_google_res_name(g->err.res), g->ms);
	if (keep != NULL && g->err.res == API_GOOGLE_OK)
		*keep = resp;
	else
		http_response_free(&resp);
	return g->err.res;
}

/* A failure found before any request: g->err says only res and why. Returns res. */
static enum api_google_res
fail_local(struct api_google *g, enum api_google_res res, const char *why)
{
	memset(&g->err, 0, sizeof(g->err));
	g->err.res = res;
	snprintf(g->err.message, sizeof(g->err.message), "%s", why);
	return g->err.res;
}

/* POST a form to an OAuth endpoint. The form holds secrets: it is wiped after. */
static enum api_google_res
token_call(struct api_google *g, const char *url, struct buf *form, struct api_google_token *tok)
{
	struct http_request rq;
	struct http_response resp;
	enum api_google_res res;
	char err[160];

	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.content_type = "application/x-www-form-urlencoded";
	rq.body = form->data;
	rq.body_len = form->len;
	rq.log_ctx = g->log_ctx;
	if (form->oom) {
		g->err.res = API_GOOGLE_NETWORK;
		snprintf(g->err.message, sizeof(g->err.message), "out of memory");
		return g->err.res;
	}
	memset(&resp, 0, sizeof(resp));
	res = call(g, &rq, 1, 0, NULL, tok ? &resp : NULL);
	if (res == API_GOOGLE_OK && tok != NULL) {
		if (api_google_token_parse(resp.body.data, resp.body.len, tok, err, sizeof(err)) != 0) {
			g->err.res = res = API_GOOGLE_BAD_ANSWER;
			snprintf(g->err.message, sizeof(g->err.message), "%s", err);
		}
		http_response_free(&resp);
	}
	return res;
}

static int
client_configured(struct api_google *g)
{
	const struct config *cfg = config_get();

	if (cfg->google_client_id && *cfg->google_client_id && cfg->google_client_secret &&
	    *cfg->google_client_secret)
		return 1;
	fail_local(g, API_GOOGLE_INVALID_CLIENT, "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not set");
	return 0;
}

enum api_google_res
api_google_exchange_code(struct api_google *g, const char *code, const char *verifier, const char *redirect_uri,
    struct api_google_token *out)
{
	const struct config *cfg = config_get();
	struct buf form = BUF_INIT;
	enum api_google_res res;

	memset(out, 0, sizeof(*out));
	if (!client_configured(g))
		return g->err.res;
	http_form_add(&form, "code", code);
	http_form_add(&form, "client_id", cfg->google_client_id);
	http_form_add(&form, "client_secret", cfg->google_client_secret);
	http_form_add(&form, "redirect_uri", redirect_uri);
	http_form_add(&form, "grant_type", "authorization_code");
	http_form_add(&form, "code_verifier", verifier);
	res = token_call(g, cfg->google_token_url, &form, out);
	buf_wipe_free(&form);
	return res;
}

enum api_google_res
api_google_refresh(struct api_google *g, const char *refresh_token, struct api_google_token *out)
{
	const struct config *cfg = config_get();
	struct buf form = BUF_INIT;
	enum api_google_res res;

	memset(out, 0, sizeof(*out));
	if (!client_configured(g))
		return g->err.res;
	http_form_add(&form, "client_id", cfg->google_client_id);
	http_form_add(&form, "client_secret", cfg->google_client_secret);
	http_form_add(&form, "grant_type", "refresh_token");
	http_form_add(&form, "refresh_token", refresh_token);
	res = token_call(g, cfg->google_token_url, &form, out);
	buf_wipe_free(&form);
	return res;
}

enum api_google_res
api_google_revoke(struct api_google *g, const char *token)
{
	struct buf form = BUF_INIT;
	enum api_google_res res;

	http_form_add(&form, "token", token);
	res = token_call(g, config_get()->google_revoke_url, &form, NULL);
	buf_wipe_free(&form);
	return res;
}

/* ---- Calendar API -------------------------------------------------------------------------------- */

/* base + "/calendars/{cal}" [+ "/events" [+ "/{ev}"]], segments percent-encoded. */
static void
api_url(struct buf *u, const char *calendar_id, int events, const char *event_id)
{
	buf_puts(u, config_get()->google_api_url);
	buf_puts(u, "/calendars");
	if (calendar_id != NULL) {
		buf_putc(u, '/');
		http_escape(u, calendar_id);
	}
	if (events) {
		buf_puts(u, "/events");
		if (event_id != NULL) {
			buf_putc(u, '/');
			http_escape(u, event_id);
		}
	}
}

static enum api_google_res
api_call(struct api_google *g, const char *method, struct buf *url, const char *bearer, json_t *body,
    json_t **out)
{
	struct http_request rq;
	enum api_google_res res;
	char *text = NULL;

	if (out)
		*out = NULL;
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url->data;
	rq.bearer = bearer;
	rq.log_ctx = g->log_ctx;
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
			return fail_local(g, API_GOOGLE_BAD_REQUEST, "the request body could not be encoded");
		rq.content_type = "application/json";
		rq.body = text;
		rq.body_len = strlen(text);
	}
	if (url->oom) {
		free(text);
		return fail_local(g, API_GOOGLE_NETWORK, "out of memory");
	}
	res = call(g, &rq, 0, out != NULL, out, NULL);
	free(text);
	return res;
}

/* Build the calendar/event URL (see api_url), make one API call with it, release the URL. */
static enum api_google_res
calendar_call(struct api_google *g, const char *method, const char *bearer, const char *calendar_id, int events,
    const char *event_id, json_t *body, json_t **out)
{
	struct buf u = BUF_INIT;
	enum api_google_res res;

	api_url(&u, calendar_id, events, event_id);
	res = api_call(g, method, &u, bearer, body, out);
	buf_free(&u);
	return res;
}

enum api_google_res
api_google_calendar_insert(struct api_google *g, const char *bearer, json_t *body, json_t **out)
{
	return calendar_call(g, "POST", bearer, NULL, 0, NULL, body, out);
}

enum api_google_res
api_google_calendar_get(struct api_google *g, const char *bearer, const char *calendar_id, json_t **out)
{
	return calendar_call(g, "GET", bearer, calendar_id, 0, NULL, NULL, out);
}

enum api_google_res
api_google_calendar_patch(struct api_google *g, const char *bearer, const char *calendar_id, json_t *body,
    json_t **out)
{
	return calendar_call(g, "PATCH", bearer, calendar_id, 0, NULL, body, out);
}

enum api_google_res
api_google_calendar_list(struct api_google *g, const char *bearer, const char *page_token, json_t **out)
{
	struct buf u = BUF_INIT;
	enum api_google_res res;

	buf_puts(&u, config_get()->google_api_url);
	buf_puts(&u, "/users/me/calendarList?maxResults=250");
	if (page_token != NULL) {
		buf_puts(&u, "&pageToken=");
		http_escape(&u, page_token);
	}
	res = api_call(g, "GET", &u, bearer, NULL, out);
	buf_free(&u);
	return res;
}

enum api_google_res
api_google_event_insert(struct api_google *g, const char *bearer, const char *calendar_id, json_t *body,
    json_t **out)
{
	return calendar_call(g, "POST", bearer, calendar_id, 1, NULL, body, out);
}

enum api_google_res
api_google_event_get(struct api_google *g, const char *bearer, const char *calendar_id, const char *event_id,
    json_t **out)
{
	return calendar_call(g, "GET", bearer, calendar_id, 1, event_id, NULL, out);
}

enum api_google_res
api_google_event_patch(struct api_google *g, const char *bearer, const char *calendar_id, const char *event_id,
    json_t *body, json_t **out)
{
	return calendar_call(g, "PATCH", bearer, calendar_id, 1, event_id, body, out);
}

enum api_google_res
api_google_event_update(struct api_google *g, const char *bearer, const char *calendar_id, const char *event_id,
    json_t *body, json_t **out)
{
	return calendar_call(g, "PUT", bearer, calendar_id, 1, event_id, body, out);
}

enum api_google_res
api_google_event_delete(struct api_google *g, const char *bearer, const char *calendar_id, const char *event_id)
{
	return calendar_call(g, "DELETE", bearer, calendar_id, 1, event_id, NULL, NULL);
}

static void
query_add(struct buf *u, const char *key, const char *val)
{
	buf_putc(u, strchr(u->data ? u->data : "", '?') ? '&' : '?');
	buf_puts(u, key);
	buf_putc(u, '=');
	http_escape(u, val);
}

enum api_google_res
api_google_event_list(struct api_google *g, const char *bearer, const char *calendar_id,
    const struct api_google_list_query *q, json_t **out)
{
	struct buf u = BUF_INIT;
	enum api_google_res res;
	char n[16];

	api_url(&u, calendar_id, 1, NULL);
	if (q->max_results > 0) {
		snprintf(n, sizeof(n), "%d", q->max_results > LIMIT_GOOGLE_LIST_PAGE ? LIMIT_GOOGLE_LIST_PAGE :
		    q->max_results);
		query_add(&u, "maxResults", n);
	}
	if (q->show_deleted)
		query_add(&u, "showDeleted", "true");
	if (q->time_min)
		query_add(&u, "timeMin", q->time_min);
	if (q->time_max)
		query_add(&u, "timeMax", q->time_max);
	if (q->page_token)
		query_add(&u, "pageToken", q->page_token);
	res = api_call(g, "GET", &u, bearer, NULL, out);
	buf_free(&u);
	return res;
}
