/* filters.c: Grafana's ad-hoc filters (`filters`, legacy `adhocFilters`) and the payload multi-selects,
 * as one list, and the JSON form the statements evaluate (GF_FILTER_OK in src/db/stmt.c). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grafana/grafana.h"
#include "util/limits.h"

const char *const grafana_key_names[GRAFANA_K__MAX] = {
	"project", "client", "tag", "workspace", "billable", "description", "user",
};
const char *const grafana_op_names[GRAFANA_OP__MAX] = { "=", "!=", "=~", "!~", "=|", "!=|" };

int
grafana_key_parse(const char *s)
{
	size_t n = strlen(s);

	for (int i = 0; i < GRAFANA_K__MAX; i++) {
		size_t k = strlen(grafana_key_names[i]);
		/* "project", "projects", "Project" */
		if (strncasecmp(s, grafana_key_names[i], k) == 0 && (n == k || (n == k + 1 && tolower((unsigned char)s[k]) == 's')))
			return i;
	}
	if (strcasecmp(s, "email") == 0)
		return GRAFANA_K_USER;
	return -1;
}

int
grafana_filters_add(struct arena *a, struct grafana_filters *f, enum grafana_key key, enum grafana_op op, int ref,
    const struct grafana_strv *vals, struct grafana_err *e)
{
	if (f->n == LIMIT_GRAFANA_FILTERS_MAX)
		return grafana_fail(e, 400, "BAD_REQUEST", "more than %d filters", LIMIT_GRAFANA_FILTERS_MAX);
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		struct grafana_filter *nv = arena_alloc(a, ncap * sizeof(*nv));
		if (nv == NULL)
			return grafana_fail(e, 500, "INTERNAL", "out of memory");
		if (f->n)
			memcpy(nv, f->v, f->n * sizeof(*nv));
		f->v = nv;
		f->cap = ncap;
	}
	f->v[f->n].key = key;
	f->v[f->n].op = op;
	f->v[f->n].ref = ref;
	f->v[f->n].vals = *vals;
	f->n++;
	return 0;
}

/* billable values as the statements compare them: "true" / "false". NULL when it is neither. */
static const char *
billable_value(const char *s)
{
	static const char *const yes[] = { "true", "yes", "1", "billable", "t" };
	static const char *const no[] = { "false", "no", "0", "non-billable", "nonbillable", "f" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return "true";
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return "false";
	return NULL;
}

int
grafana_parse_adhoc(struct arena *a, json_t *arr, const char *where, int admin, struct grafana_filters *out,
    struct grafana_err *e)
{
	char w[96];
	json_t *f, *v;
	size_t i;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return grafana_fail(e, 400, "BAD_REQUEST", "%s: must be an array of {key, operator, value}", where);
	json_array_foreach(arr, i, f) {
		struct grafana_strv vals;
		const char *key, *opname = "=";
		int k = -1, op = -1;

		snprintf(w, sizeof(w), "%s[%zu]", where, i);
		if (!json_is_object(f))
			return grafana_fail(e, 400, "BAD_REQUEST", "%s: must be an object {key, operator, value}", w);
		if (!json_is_string(v = json_object_get(f, "key")))
			return grafana_fail(e, 400, "BAD_REQUEST", "%s.key: missing", w);
		key = json_string_value(v);
		if ((k = grafana_key_parse(key)) < 0)
			return grafana_fail(e, 400, "BAD_REQUEST", "%s.key: \"%.60s\" is not a key; use one of project, "
			    "client, tag, workspace, billable, description%s", w, key, admin ? ", user" : "");
		if (k == GRAFANA_K_USER && !admin)
			return grafana_fail(e, 403, "FORBIDDEN", "%s.key: filtering on user needs an admin token", w);
		if ((v = json_object_get(f, "operator")) != NULL && !json_is_null(v)) {
			if (!json_is_string(v))
				return grafana_fail(e, 400, "BAD_REQUEST", "%s.operator: must be a string", w);
			opname = json_string_value(v);
		}
		for (int o = 0; o < GRAFANA_OP__MAX; o++)
			if (strcmp(opname, grafana_op_names[o]) == 0)
				op = o;
		if (op < 0)
			return grafana_fail(e, 400, "BAD_REQUEST", "%s.operator: \"%.20s\" is not supported on %s; use one "
			    "of = != =~ !~ =| !=|", w, opname, grafana_key_names[k]);
		snprintf(w, sizeof(w), "%s[%zu].value%s", where, i, op == GRAFANA_OP_IN || op == GRAFANA_OP_NIN ? "s" : "");
		if (op == GRAFANA_OP_IN || op == GRAFANA_OP_NIN) {
			v = json_object_get(f, "values");
			if (v == NULL || (json_is_array(v) && json_array_size(v) == 0))
				v = json_object_get(f, "value");
			if (grafana_json_strv(a, v, 0, w, &vals, e) != 0)
				return -1;
			if (vals.n == 0)
				return grafana_fail(e, 400, "BAD_REQUEST", "%s: %s needs at least one value", w, opname);
		} else {
			static const char *empty = "";
			v = json_object_get(f, "value");
			if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
				/* "project = ''": nothing has an empty label, which is what the user asked. */
				vals.v = &empty;
				vals.n = 1;
			} else if ((op == GRAFANA_OP_RE || op == GRAFANA_OP_NRE) && json_is_string(v)) {
				/* A regular expression is taken as written: ".*" is a pattern here, not "All". */
				const char **one = arena_alloc(a, sizeof(*one));
				if (json_string_length(v) > LIMIT_GRAFANA_VALUE_MAX)
					return grafana_fail(e, 400, "BAD_REQUEST", "%s: longer than %d bytes", w,
					    LIMIT_GRAFANA_VALUE_MAX);
				if (strlen(json_string_value(v)) != json_string_length(v))
					return grafana_fail(e, 400, "BAD_REQUEST", "%s: contains a NUL character", w);
				if (one == NULL || (one[0] = arena_strdup(a, json_string_value(v))) == NULL)
					return grafana_fail(e, 500, "INTERNAL", "out of memory");
				vals.v = one;
				vals.n = 1;
			} else {
				if (json_is_array(v))
					return grafana_fail(e, 400, "BAD_REQUEST", "%s: %s takes one value; use =| for several",
					    w, opname);
				if (grafana_json_strv(a, v, 0, w, &vals, e) != 0)
					return -1;
				if (vals.n == 0) {   /* "All": no restriction */
					if (op == GRAFANA_OP_EQ || op == GRAFANA_OP_RE)
						continue;
					vals.v = &empty;
					vals.n = 1;
				}
			}
		}
		if (k == GRAFANA_K_BILLABLE && (op == GRAFANA_OP_EQ || op == GRAFANA_OP_NE || op == GRAFANA_OP_IN ||
		    op == GRAFANA_OP_NIN)) {
			const char **nv = arena_alloc(a, vals.n * sizeof(*nv));
			if (nv == NULL)
				return grafana_fail(e, 500, "INTERNAL", "out of memory");
			for (size_t j = 0; j < vals.n; j++)
				if ((nv[j] = billable_value(vals.v[j])) == NULL)
					return grafana_fail(e, 400, "BAD_REQUEST", "%s: \"%.40s\" is not true or false", w,
					    vals.v[j]);
			vals.v = nv;
		}
		if (grafana_filters_add(a, out, (enum grafana_key)k, (enum grafana_op)op, 0, &vals, e) != 0)
			return -1;
	}
	return 0;
}

static int
add_all(json_t *arr, const struct grafana_filters *f, int skip)
{
	for (size_t i = 0; f && i < f->n; i++) {
		json_t *o, *vals;
		const char *k = grafana_key_names[f->v[i].key];
		char key[32];

		if ((int)f->v[i].key == skip)
			continue;
		snprintf(key, sizeof(key), "%s%s", k, f->v[i].ref ? "#ref" : "");
		if ((vals = json_array()) == NULL)
			return -1;
		for (size_t j = 0; j < f->v[i].vals.n; j++)
			if (json_array_append_new(vals, json_string(f->v[i].vals.v[j])) != 0) {
				json_decref(vals);
				return -1;
			}
		o = json_pack("{s:s, s:s, s:o}", "k", key, "op", grafana_op_names[f->v[i].op], "v", vals);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			return -1;
	}
	return 0;
}

const char *
grafana_filters_sql(struct arena *ar, const struct grafana_filters *a, const struct grafana_filters *b, int skip,
    int *oom)
{
	json_t *arr;
	char *text = NULL;
	const char *out = NULL;

	*oom = 0;
	if ((arr = json_array()) == NULL)
		goto fail;
	if (add_all(arr, a, skip) != 0 || add_all(arr, b, skip) != 0)
		goto fail;
	if (json_array_size(arr) == 0)
		goto out;
	if ((text = json_dumps(arr, JSON_COMPACT)) == NULL || (out = arena_strdup(ar, text)) == NULL)
		goto fail;
	goto out;
fail:
	*oom = 1;
	out = NULL;
out:
	free(text);
	json_decref(arr);
	return out;
}
