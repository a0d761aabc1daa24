/* request.c: reading one request's input: FastCGI parameters, headers, query, form and cookies (parsed on
 * first use, bounded by the limits in util/limits.h). */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <fcgiapp.h>

#include "http/http.h"
#include "http/parse.h"
#include "util/limits.h"
#include "util/log.h"

const char *
req_param(struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgi->envp);
}

/* "X-Webhook-Signature-256" → "HTTP_X_WEBHOOK_SIGNATURE_256", the CGI spelling. */
const char *
req_header(struct req *r, const char *name)
{
	char key[128];
	size_t i = 0;

	if (strcasecmp(name, "Content-Type") == 0)
		return req_param(r, "CONTENT_TYPE");
	if (strcasecmp(name, "Content-Length") == 0)
		return req_param(r, "CONTENT_LENGTH");
	memcpy(key, "HTTP_", 5);
	for (i = 0; name[i] && i + 6 < sizeof(key); i++)
		key[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	key[5 + i] = '\0';
	return req_param(r, key);
}

/* A malformed query or cookie header makes the whole list empty: handlers then see absent values, and
 * the router has already answered 400 for routes that need them. */
static struct kvlist *
parsed(struct req *r, struct kvlist **slot, int which)
{
	static struct kvlist empty;
	struct kvlist *l;
	const char *err = NULL;
	enum http_perr e;

	if (*slot)
		return *slot;
	if ((l = arena_alloc(&r->arena, sizeof(*l))) == NULL)
		return &empty;
	switch (which) {
	case 0:
		e = http_parse_query(&r->arena, r->query_string, l, &err);
		break;
	case 1:
		e = r->body ? http_parse_form(&r->arena, r->body, r->body_len, l, &err) : HTTP_POK;
		break;
	default:
		e = http_parse_cookies(&r->arena, req_param(r, "HTTP_COOKIE"), l, &err);
		break;
	}
	if (e != HTTP_POK) {
		log_info(r->id, "ignored malformed %s: %s", which == 0 ? "query" : which == 1 ? "form" : "cookies",
		    err ? err : http_perr_str(e));
		memset(l, 0, sizeof(*l));
	}
	*slot = l;
	return l;
}

const char *
req_query(struct req *r, const char *name)
{
	const struct kv *kv = http_kv_get(parsed(r, &r->query, 0), name);

	return kv ? kv->val : NULL;
}

const char *
req_form(struct req *r, const char *name)
{
	const struct kv *kv = http_kv_get(parsed(r, &r->form, 1), name);

	return kv ? kv->val : NULL;
}

const char **
req_form_all(struct req *r, const char *name)
{
	struct kvlist *l = parsed(r, &r->form, 1);
	const char **out;
	const struct kv *kv;
	size_t pos = 0, n = 0;

	if ((out = arena_alloc(&r->arena, (l->n + 1) * sizeof(*out))) == NULL)
		return NULL;
	while ((kv = http_kv_next(l, name, &pos)) != NULL)
		out[n++] = kv->val;
	out[n] = NULL;
	return out;
}

const char *
req_cookie(struct req *r, const char *name)
{
	const struct kv *kv = http_kv_get(parsed(r, &r->cookies, 2), name);

	return kv ? kv->val : NULL;
}

int
req_is_https(struct req *r)
{
	const char *h = req_param(r, "HTTPS");

	return h != NULL && (strcmp(h, "on") == 0 || strcmp(h, "1") == 0);
}

/* Check the input the router needs before any handler: 0 ok, else the status already answered. */
int
req_validate_input(struct req *r, int flags)
{
	const char *err = NULL;
	char jerr[256];
	enum http_perr e;

	if (r->query_string && strlen(r->query_string) > LIMIT_QUERY_MAX) {
		resp_error(r, 414, "The query string is longer than %d bytes.", LIMIT_QUERY_MAX);
		return 414;
	}
	if (r->query_string && *r->query_string) {
		if ((r->query = arena_alloc(&r->arena, sizeof(*r->query))) == NULL ||
		    (e = http_parse_query(&r->arena, r->query_string, r->query, &err)) != HTTP_POK) {
			resp_error(r, 400, "Malformed query string: %s.", err ? err : "out of memory");
			return 400;
		}
	}
	if (flags & R_FORM && (r->method & (METHOD_POST | METHOD_PUT | METHOD_PATCH))) {
		if (r->body_len > LIMIT_FORM_BODY_MAX) {
			resp_error(r, 413, "The form is larger than %d bytes.", LIMIT_FORM_BODY_MAX);
			return 413;
		}
		if ((r->form = arena_alloc(&r->arena, sizeof(*r->form))) == NULL ||
		    (e = http_parse_form(&r->arena, r->body ? r->body : "", r->body_len, r->form, &err)) != HTTP_POK) {
			resp_error(r, 400, "Malformed form: %s.", err ? err : "out of memory");
			return 400;
		}
	}
	if (flags & R_JSON && (r->method & (METHOD_POST | METHOD_PUT | METHOD_PATCH))) {
		/* Grafana sends no body on some calls: an absent body is an empty object. */
		if (r->body_len == 0)
			r->json = json_object();
		else if ((e = http_parse_json_body(r->body ? r->body : "", r->body_len, &r->json, jerr,
		    sizeof(jerr))) != HTTP_POK) {
			resp_json_error(r, 400, "BAD_JSON", "Malformed JSON body: %s", jerr);
			return 400;
		}
		if (!json_is_object(r->json)) {
			resp_json_error(r, 400, "BAD_JSON", "The JSON body must be an object.");
			return 400;
		}
	}
	return 0;
}
