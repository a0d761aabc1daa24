/* h_grafana.c: the Grafana JSON API under /api/grafana (simPod JSON datasource, legacy SimpleJSON,
 * Infinity): routing inside the prefix, CORS, and the glue between a request and src/grafana/. The
 * router has already authenticated the token (R_TOKEN) and parsed the JSON body (R_JSON). Every answer
 * other than 200 has the body {"message", "error": {"code", "message"}}, which both Grafana's panels and
 * its Save & test read. */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "grafana/grafana.h"
#include "handlers/handlers.h"
#include "http/http.h"
#include "util/conf.h"
#include "util/log.h"

enum gpath { GP_BASE, GP_METRICS, GP_OPTIONS, GP_QUERY, GP_VARIABLE, GP_TAG_KEYS, GP_TAG_VALUES, GP_SEARCH,
	GP_ANNOTATIONS, GP__MAX };

static const char *const gpaths[GP__MAX] = {
	"", "/metrics", "/metric-payload-options", "/query", "/variable", "/tag-keys", "/tag-values", "/search",
	"/annotations",
};

/* The CORS headers of every answer, when the setting turns them on (Grafana's "Browser" access mode). An
 * origin list "a,b" allows each of them: the request's Origin is echoed when it is one. */
static void
cors(struct req *r)
{
	const struct config *cfg = config_get();
	const char *allowed = cfg->grafana_cors_origin, *origin = req_header(r, "Origin");

	if (!cfg->grafana_cors)
		return;
	if (strcmp(allowed, "*") == 0) {
		resp_header(r, "Access-Control-Allow-Origin", "*");
		return;
	}
	if (strchr(allowed, ',') != NULL) {
		const char *p = allowed;
		size_t n = origin ? strlen(origin) : 0;
		allowed = NULL;
		while (origin && *p) {
			size_t len = strcspn(p, ",");
			const char *s = p;
			while (len && isspace((unsigned char)*s)) {
				s++;
				len--;
			}
			while (len && isspace((unsigned char)s[len - 1]))
				len--;
			if (len == n && strncmp(s, origin, n) == 0)
				allowed = origin;
			p += strcspn(p, ",");
			if (*p == ',')
				p++;
		}
		if (allowed == NULL)
			return;
	}
	resp_header(r, "Access-Control-Allow-Origin", "%s", allowed);
	resp_header(r, "Access-Control-Allow-Credentials", "true");
	resp_header(r, "Vary", "Origin");
}

void
h_grafana_preflight(struct req *r)
{
	if (!config_get()->grafana_cors) {
		resp_header(r, "Allow", "GET, HEAD, POST");
		resp_json_error(r, 405, "METHOD_NOT_ALLOWED", "OPTIONS is answered only when TIMEBRIDGE_GRAFANA_CORS=1 "
		    "(Grafana's Browser access mode); use Server access instead");
		return;
	}
	cors(r);
	resp_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
	resp_header(r, "Access-Control-Allow-Headers", "accept, content-type, authorization");
	resp_header(r, "Access-Control-Max-Age", "600");
	r->status = 204;
}

static void
fail(struct req *r, const struct grafana_err *e)
{
	if (e->status >= 500)
		log_warn(r->id, "grafana %s: %d %s", r->path, e->status, e->msg);
	resp_json_error(r, e->status, e->code, "%s", e->msg);
}

/* A JSON text member that may itself hold a JSON object (the variable editor's text, /search's target):
 * the object when it parses as one, else NULL. The caller decrefs. */
static json_t *
object_in_text(const char *s)
{
	while (s && isspace((unsigned char)*s))
		s++;
	if (s == NULL || *s != '{')
		return NULL;
	json_t *o = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static const char *
text_of(json_t *o, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(o, a);

	if (!json_is_string(v) && b)
		v = json_object_get(o, b);
	if (!json_is_string(v) && c)
		v = json_object_get(o, c);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
metric_names(struct grafana_ctx *c, const char *match, json_t *out, struct grafana_err *e)
{
	json_t *m = grafana_metrics(c, 1, match);
	int rc = m && json_array_extend(out, m) == 0 ? 0 : grafana_fail(e, 500, "INTERNAL", "out of memory");

	json_decref(m);
	return rc;
}

/* /variable (style 1) and /search (style 2): a list named by the query text, or by the target (query,
 * list) of a JSON object given as the payload or as the text. The object's other members narrow the list
 * (projects of some clients or workspaces). /search also answers metric names. */
static int
list_request(struct grafana_ctx *c, json_t *payload, const char *text, int style, json_t *out,
    struct grafana_err *e)
{
	struct grafana_target t;
	json_t *parsed = NULL, *inner = NULL;
	const char *list = text;
	struct grafana_err probe;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	t.ref_id = "A";
	if (text && (parsed = object_in_text(text)) != NULL) {
		payload = parsed;
		list = NULL;
	}
	if (json_is_object(payload)) {
		list = text_of(payload, "target", "query", "list");
		if (list && (inner = object_in_text(list)) != NULL) {
			payload = inner;   /* {"target": "{\"target\": \"projects\"}"}: the editor's text was JSON */
			list = text_of(payload, "target", "query", "list");
		}
		if (grafana_parse_payload(c->arena, payload, "payload", &t, e) != 0)
			goto out;
	}
	while (list && isspace((unsigned char)*list))
		list++;
	if (list == NULL || *list == '\0') {
		if (style == 2)
			rc = metric_names(c, NULL, out, e);
		else
			grafana_fail(e, 400, "BAD_REQUEST", "payload.target: name a list: projects, clients, tags, "
			    "workspaces, users, group_by, billable, bucket, format or metrics");
		goto out;
	}
	if (style != 2) {
		rc = grafana_list(c, list, &t, style, out, e);
		goto out;
	}
	/* SimpleJSON's /search: a list by that name, else the metrics whose names contain the text. */
	if ((rc = grafana_list(c, list, &t, style, out, &probe)) != 0) {
		if (probe.status != 400)
			*e = probe;
		else
			rc = metric_names(c, list, out, e);
	}
out:
	json_decref(inner);
	json_decref(parsed);
	return rc;
}

/* Legacy /annotations: {range, annotation: {query}}; the query is a payload object (JSON text) or a
 * comma-joined list of projects. */
static int
annotations_request(struct grafana_ctx *c, json_t *body, json_t *out, struct grafana_err *e)
{
	struct grafana_query q;
	struct grafana_target t;
	json_t *anno = json_object_get(body, "annotation"), *parsed = NULL, *v;
	const char *text = anno ? text_of(anno, "query", NULL, NULL) : NULL;
	int rc = -1;

	if (grafana_parse_query(c->arena, body, 1, c->admin, &q, e) != 0)
		return -1;
	memset(&t, 0, sizeof(t));
	t.ref_id = "annotations";
	t.metric = GRAFANA_M_ANNOTATIONS;
	if (text && (parsed = object_in_text(text)) != NULL) {
		if (grafana_parse_payload(c->arena, parsed, "annotation.query", &t, e) != 0)
			goto out;
	} else if (text && *text) {
		struct grafana_strv sv;
		if ((v = json_string(text)) == NULL) {
			grafana_fail(e, 500, "INTERNAL", "out of memory");
			goto out;
		}
		rc = grafana_json_strv(c->arena, v, 1, "annotation.query", &sv, e);
		json_decref(v);
		if (rc != 0 || (sv.n > 0 && grafana_filters_add(c->arena, &t.filters, GRAFANA_K_PROJECT, GRAFANA_OP_IN, 1,
		    &sv, e) != 0)) {
			rc = -1;
			goto out;
		}
	}
	rc = grafana_annotations_legacy(c, &q, &t, anno, out, e);
out:
	json_decref(parsed);
	return rc;
}

/* The path inside the prefix without trailing slashes; GP__MAX when unknown. */
static enum gpath
route_of(const char *rest)
{
	size_t n = strlen(rest);

	while (n > 0 && rest[n - 1] == '/')
		n--;
	for (int i = 0; i < GP__MAX; i++)
		if (strlen(gpaths[i]) == n && strncmp(rest, gpaths[i], n) == 0)
			return (enum gpath)i;
	return GP__MAX;
}

void
h_grafana(struct req *r)
{
	struct grafana_ctx c;
	struct grafana_err e = { 500, "INTERNAL", "" };
	struct grafana_query q;
	enum gpath p = route_of(r->path_rest ? r->path_rest : "");
	json_t *body = r->json, *out = NULL;
	int ok = 0, began = 0;

	cors(r);
	if (p == GP__MAX) {
		resp_json_error(r, 404, "NOT_FOUND", "no Grafana endpoint %s; the base is /api/grafana and the endpoints "
		    "are /metrics, /metric-payload-options, /query, /variable, /tag-keys, /tag-values, /search and "
		    "/annotations", r->path);
		return;
	}
	if (p == GP_BASE && (r->method & (METHOD_GET | METHOD_HEAD | METHOD_POST))) {
		/* Save & test: any 200 will do; say who the token belongs to. */
		resp_json(r, 200, json_pack("{s:s, s:s, s:b}", "status", "ok", "user", r->user.email ? r->user.email : "",
		    "admin", r->user.is_admin));
		return;
	}
	if (r->method != METHOD_POST) {
		resp_header(r, "Allow", "POST");
		resp_json_error(r, 405, "METHOD_NOT_ALLOWED", "%s takes POST with a JSON body", gpaths[p]);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.db = r->db;
	c.arena = &r->arena;
	c.rid = r->id;
	c.user_id = r->user.id;
	c.admin = r->user.is_admin;
	if ((out = json_array()) == NULL) {
		grafana_fail(&e, 500, "INTERNAL", "out of memory");
		goto done;
	}
	if (p == GP_METRICS) {
		json_decref(out);
		if ((out = grafana_metrics(&c, 0, NULL)) == NULL) {
			grafana_fail(&e, 500, "INTERNAL", "out of memory");
			goto done;
		}
		ok = 1;
		goto done;
	}
	if (p == GP_TAG_KEYS) {
		json_decref(out);
		if ((out = grafana_tag_keys(&c)) == NULL) {
			grafana_fail(&e, 500, "INTERNAL", "out of memory");
			goto done;
		}
		ok = 1;
		goto done;
	}
	if (grafana_begin(&c, &e) != 0)
		goto done;
	began = 1;
	switch (p) {
	case GP_QUERY:
		if (grafana_parse_query(c.arena, body, 1, c.admin, &q, &e) != 0 || grafana_query(&c, &q, out, &e) != 0)
			goto done;
		break;
	case GP_OPTIONS: {
		struct grafana_target t;
		const char *name = text_of(body, "name", NULL, NULL);
		memset(&t, 0, sizeof(t));
		t.ref_id = "A";
		if (name == NULL) {
			grafana_fail(&e, 400, "BAD_REQUEST", "name: missing; send the payload field's name, e.g. \"projects\"");
			goto done;
		}
		if (strcmp(name, "tz") == 0 || strcmp(name, "limit") == 0) {
			grafana_fail(&e, 400, "BAD_REQUEST", "name: \"%s\" is a free input, it has no options", name);
			goto done;
		}
		if (grafana_parse_payload(c.arena, json_object_get(body, "payload"), "payload", &t, &e) != 0 ||
		    grafana_list(&c, name, &t, 0, out, &e) != 0)
			goto done;
		break;
	}
	case GP_VARIABLE: {
		json_t *payload = json_object_get(body, "payload");
		const char *text = json_is_string(payload) ? json_string_value(payload) : NULL;
		if (list_request(&c, json_is_object(payload) ? payload : body, text, 1, out, &e) != 0)
			goto done;
		break;
	}
	case GP_SEARCH:
		if (list_request(&c, NULL, text_of(body, "target", NULL, NULL), 2, out, &e) != 0)
			goto done;
		break;
	case GP_TAG_VALUES:
		memset(&q, 0, sizeof(q));
		if (grafana_parse_range(body, &q, &e) != 0 ||
		    grafana_parse_adhoc(c.arena, json_object_get(body, "filters"), "filters", c.admin, &q.adhoc, &e) != 0 ||
		    grafana_parse_adhoc(c.arena, json_object_get(body, "adhocFilters"), "adhocFilters", c.admin, &q.adhoc,
		    &e) != 0 ||
		    grafana_tag_values(&c, text_of(body, "key", NULL, NULL), &q, out, &e) != 0)
			goto done;
		break;
	case GP_ANNOTATIONS:
		if (annotations_request(&c, body, out, &e) != 0)
			goto done;
		break;
	default:
		break;
	}
	ok = 1;
done:
	if (began && grafana_end(&c, ok) != 0 && ok) {
		ok = 0;
		grafana_fail(&e, 503, "DB_DOWN", "database unavailable");
	}
	if (ok) {
		resp_json(r, 200, out);
		return;
	}
	json_decref(out);
	fail(r, &e);
}
