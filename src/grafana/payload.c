/* payload.c: tolerant parsing of what Grafana sends. Dashboards interpolate variables into payloads in
 * every shape (strings, arrays, numbers, booleans, "a,b", "{a,b}"), old plugins send `data` and `type`,
 * new ones `payload` and top-level `filters`; all of it is accepted, and anything we cannot use is
 * refused with a message that names the field and the value. */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grafana/grafana.h"
#include "util/limits.h"
#include "util/tbtime.h"

const char *const grafana_metric_names[GRAFANA_M__MAX] = {
	"hours", "entries", "billable_ratio", "earnings", "entries_table", "running", "annotations",
};
const char *const grafana_group_names[GRAFANA_G__MAX] = {
	"none", "project", "client", "tag", "workspace", "billable", "description", "user",
};
const char *const grafana_unit_names[GRAFANA_U__MAX] = { "auto", "hour", "day", "week", "month", "all" };
static const char *const format_names[GRAFANA_F__MAX] = { "frames", "timeseries", "table" };
static const char *const billable_names[] = { "any", "true", "false" };

/* Other spellings people (and old dashboards) use. */
struct alias {
	const char *name;
	int         value;
};

static const struct alias metric_aliases[] = {
	{ "hour", GRAFANA_M_HOURS }, { "count", GRAFANA_M_ENTRIES }, { "entry_count", GRAFANA_M_ENTRIES },
	{ "billable", GRAFANA_M_BILLABLE_RATIO }, { "ratio", GRAFANA_M_BILLABLE_RATIO },
	{ "revenue", GRAFANA_M_EARNINGS }, { "table", GRAFANA_M_ENTRIES_TABLE }, { "entries-table", GRAFANA_M_ENTRIES_TABLE },
	{ "hours_table", GRAFANA_M_ENTRIES_TABLE }, { "timer", GRAFANA_M_RUNNING }, { "current", GRAFANA_M_RUNNING },
	{ "annotation", GRAFANA_M_ANNOTATIONS }, { NULL, 0 },
};
static const struct alias group_aliases[] = {
	{ "", GRAFANA_G_NONE }, { "projects", GRAFANA_G_PROJECT }, { "clients", GRAFANA_G_CLIENT },
	{ "tags", GRAFANA_G_TAG }, { "workspaces", GRAFANA_G_WORKSPACE }, { "users", GRAFANA_G_USER },
	{ "email", GRAFANA_G_USER }, { "total", GRAFANA_G_NONE }, { NULL, 0 },
};
static const struct alias unit_aliases[] = {
	{ "", GRAFANA_U_AUTO }, { "1h", GRAFANA_U_HOUR }, { "h", GRAFANA_U_HOUR }, { "hourly", GRAFANA_U_HOUR },
	{ "1d", GRAFANA_U_DAY }, { "d", GRAFANA_U_DAY }, { "daily", GRAFANA_U_DAY }, { "1w", GRAFANA_U_WEEK },
	{ "w", GRAFANA_U_WEEK }, { "weekly", GRAFANA_U_WEEK }, { "1M", GRAFANA_U_MONTH }, { "monthly", GRAFANA_U_MONTH },
	{ "total", GRAFANA_U_ALL }, { "range", GRAFANA_U_ALL }, { "none", GRAFANA_U_ALL }, { NULL, 0 },
};
static const struct alias format_aliases[] = {
	{ "", GRAFANA_F_FRAMES }, { "frame", GRAFANA_F_FRAMES }, { "dataframe", GRAFANA_F_FRAMES },
	{ "timeserie", GRAFANA_F_SERIES }, { "series", GRAFANA_F_SERIES }, { "time_series", GRAFANA_F_SERIES },
	{ NULL, 0 },
};
/* billable: 0 any, 1 true, 2 false */
static const struct alias billable_aliases[] = {
	{ "", 0 }, { "all", 0 }, { "both", 0 }, { "yes", 1 }, { "1", 1 }, { "billable", 1 }, { "no", 2 },
	{ "0", 2 }, { "non-billable", 2 }, { "nonbillable", 2 }, { "unbillable", 2 }, { NULL, 0 },
};

int
grafana_fail(struct grafana_err *e, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int
bad(struct grafana_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(struct grafana_err *e, const char *fmt, ...)
{
	va_list ap;

	e->status = 400;
	e->code = "BAD_REQUEST";
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int
oom(struct grafana_err *e)
{
	return grafana_fail(e, 500, "INTERNAL", "out of memory");
}

/* A value shown in a message: quoted, cut to a readable length. */
static const char *
shown(char buf[80], const char *s)
{
	size_t n = strlen(s);

	if (n > 60)
		snprintf(buf, 80, "\"%.57s...\"", s);
	else
		snprintf(buf, 80, "\"%s\"", s);
	return buf;
}

/* A scalar as text: strings as they are, integers without a fraction, booleans as true/false. NULL for
 * null, arrays and objects. */
static const char *
scalar_text(struct arena *a, json_t *v)
{
	double d;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		return arena_printf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		d = json_real_value(v);
		if (d == (double)(long long)d)
			return arena_printf(a, "%lld", (long long)d);
		return arena_printf(a, "%.17g", d);
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return NULL;
	}
}

/* Dashboards write "All" as one of these when the variable has a custom all value. */
static int
is_all_marker(const char *s)
{
	return strcmp(s, "$__all") == 0 || strcmp(s, "__all") == 0 || strcmp(s, "*") == 0 ||
	    strcmp(s, ".*") == 0 || strcmp(s, "$__all_values") == 0;
}

/* Append s[0..len) trimmed to out (grown in the arena). 0, or -1 with e set. */
static int
push(struct arena *a, const char *s, size_t len, const char *where, struct grafana_strv *out, size_t *cap,
    struct grafana_err *e)
{
	char shownbuf[80];
	char *v;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (len > LIMIT_GRAFANA_VALUE_MAX)
		return bad(e, "%s: a value is longer than %d bytes", where, LIMIT_GRAFANA_VALUE_MAX);
	if (memchr(s, '\0', len) != NULL)
		return bad(e, "%s: a value contains a NUL character", where);
	if ((v = arena_strndup(a, s, len)) == NULL)
		return oom(e);
	if (is_all_marker(v))
		return 1;   /* "everything": the caller drops the whole list */
	if (v[0] == '$' && (isalpha((unsigned char)v[1]) || v[1] == '{'))
		return bad(e, "%s: %s looks like a dashboard variable Grafana did not replace (is it defined?)",
		    where, shown(shownbuf, v));
	if (out->n == LIMIT_GRAFANA_VALUES_MAX)
		return bad(e, "%s: more than %d values", where, LIMIT_GRAFANA_VALUES_MAX);
	if (out->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		const char **nv = arena_alloc(a, ncap * sizeof(*nv));
		if (nv == NULL)
			return oom(e);
		if (out->n)
			memcpy(nv, out->v, out->n * sizeof(*nv));
		out->v = nv;
		*cap = ncap;
	}
	out->v[out->n++] = v;
	return 0;
}

/* One string: whole, or split on commas (with "{a,b}" unwrapped). 1 when it said "all". */
static int
push_string(struct arena *a, const char *s, size_t len, int split, const char *where, struct grafana_strv *out,
    size_t *cap, struct grafana_err *e)
{
	int all = 0, rc;

	if (!split)
		return push(a, s, len, where, out, cap, e);
	if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
		s++;
		len -= 2;
	}
	while (len > 0) {
		const char *comma = memchr(s, ',', len);
		size_t n = comma ? (size_t)(comma - s) : len;
		if ((rc = push(a, s, n, where, out, cap, e)) < 0)
			return -1;
		all |= rc;
		if (comma == NULL)
			break;
		s += n + 1;
		len -= n + 1;
	}
	return all;
}

int
grafana_json_strv(struct arena *a, json_t *v, int split, const char *where, struct grafana_strv *out,
    struct grafana_err *e)
{
	size_t cap = 0, i;
	json_t *item;
	const char *s;
	int all = 0, rc;

	out->v = NULL;
	out->n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		rc = push_string(a, json_string_value(v), json_string_length(v), split, where, out, &cap, e);
	} else if (json_is_array(v)) {
		rc = 0;
		json_array_foreach(v, i, item) {
			if (json_is_string(item))
				/* Array items are whole values: a name may contain a comma. */
				rc = push(a, json_string_value(item), json_string_length(item), where, out, &cap, e);
			else if ((s = scalar_text(a, item)) != NULL)
				rc = push(a, s, strlen(s), where, out, &cap, e);
			else if (!json_is_null(item))
				return bad(e, "%s[%zu]: must be a string, number or boolean", where, i);
			if (rc < 0)
				return -1;
			all |= rc;
		}
	} else if ((s = scalar_text(a, v)) != NULL) {
		rc = push(a, s, strlen(s), where, out, &cap, e);
	} else
		return bad(e, "%s: must be a string, number, boolean or an array of them", where);
	if (rc < 0)
		return -1;
	if (all | rc) {
		out->v = NULL;
		out->n = 0;
	}
	return 0;
}

/* One choice from names (case-insensitive) or aliases; absent, null, "" or [] mean def. An array of one
 * value (a single-valued variable) is that value. */
static int
choice(struct arena *a, json_t *v, const char *where, const char *const *names, size_t n,
    const struct alias *aliases, int def, int *out, struct grafana_err *e)
{
	char list[256], shownbuf[80];
	const char *s;
	size_t len = 0;

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			return 0;
		if (json_array_size(v) > 1)
			return bad(e, "%s: takes one value, not %zu", where, json_array_size(v));
		v = json_array_get(v, 0);
	}
	if ((s = scalar_text(a, v)) == NULL)
		return bad(e, "%s: must be a string", where);
	while (isspace((unsigned char)*s))
		s++;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	for (const struct alias *al = aliases; al && al->name; al++)
		/* Units are case-sensitive aliases ("1M" is a month, "1m" would be a minute). */
		if (strcmp(s, al->name) == 0 || (strlen(al->name) > 2 && strcasecmp(s, al->name) == 0)) {
			*out = al->value;
			return 0;
		}
	list[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
	}
	return bad(e, "%s: %s is not one of: %s", where, shown(shownbuf, s), list);
}

int
grafana_metric_parse(const char *s)
{
	for (int i = 0; i < GRAFANA_M__MAX; i++)
		if (strcasecmp(s, grafana_metric_names[i]) == 0)
			return i;
	for (const struct alias *al = metric_aliases; al->name; al++)
		if (strcasecmp(s, al->name) == 0)
			return al->value;
	return -1;
}

int
grafana_parse_time(json_t *v, int64_t *ms)
{
	const char *s;
	char *end;
	long long n;

	if (json_is_integer(v)) {
		*ms = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (!(d > -1e15 && d < 1e15))
			return -1;
		*ms = (int64_t)d;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (*s && (isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))) &&
	    strspn(s + 1, "0123456789") == strlen(s + 1)) {
		n = strtoll(s, &end, 10);
		if (*end != '\0' || strlen(s) > 16)
			return -1;
		*ms = (int64_t)n;
		return 0;
	}
	return tb_parse_rfc3339(s, ms);
}

/* A count: a number or digits, within [min, max]. Absent/null/"" leave *out alone. */
static int
integer(json_t *v, const char *where, long min, long max, long *out, struct grafana_err *e)
{
	long long n;
	char *end;
	const char *s;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) >= -1e15 && json_real_value(v) <= 1e15)
		n = (long long)json_real_value(v);
	else if (json_is_string(v)) {
		s = json_string_value(v);
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 0;
		n = strtoll(s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0' || end == s)
			return bad(e, "%s: \"%.40s\" is not a whole number", where, json_string_value(v));
	} else
		return bad(e, "%s: must be a number", where);
	if (n < min || n > max)
		return bad(e, "%s: %lld is outside %ld..%ld", where, n, min, max);
	*out = (long)n;
	return 0;
}

/* Grafana's interval text ("10m", "1h", "500ms", "1d") in ms; 0 when it is not one. */
static int64_t
interval_text_ms(const char *s)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
		{ "w", 604800000 }, { "M", 2592000000LL }, { "y", 31536000000LL },
	};
	char *end;
	long long n = strtoll(s, &end, 10);

	if (end == s || n <= 0 || n > 1000000)
		return 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0)
			return (int64_t)n * units[i].ms;
	return 0;
}

/* The multi-select payload fields that become filters. */
static const struct {
	const char      *name, *alt;
	enum grafana_key key;
	int              ref;   /* values are ids or names (tags are names only) */
} multi_fields[] = {
	{ "projects", "project", GRAFANA_K_PROJECT, 1 },
	{ "clients", "client", GRAFANA_K_CLIENT, 1 },
	{ "tags", "tag", GRAFANA_K_TAG, 0 },
	{ "workspaces", "workspace", GRAFANA_K_WORKSPACE, 1 },
};

static json_t *
member(json_t *o, const char *name, const char *alt, const char *alt2)
{
	json_t *v = json_object_get(o, name);

	if (v == NULL && alt)
		v = json_object_get(o, alt);
	if (v == NULL && alt2)
		v = json_object_get(o, alt2);
	return v;
}

int
grafana_parse_payload(struct arena *a, json_t *payload, const char *where, struct grafana_target *t,
    struct grafana_err *e)
{
	char w[128];
	struct grafana_strv sv;
	int n, billable;
	long limit = 0;

	if (payload == NULL || json_is_null(payload))
		return 0;
	if (!json_is_object(payload))
		return bad(e, "%s: must be a JSON object", where);

	snprintf(w, sizeof(w), "%s.group_by", where);
	if (choice(a, member(payload, "group_by", "groupBy", "group"), w, grafana_group_names, GRAFANA_G__MAX,
	    group_aliases, (int)t->group, &n, e) != 0)
		return -1;
	t->group = (enum grafana_group)n;

	snprintf(w, sizeof(w), "%s.bucket", where);
	if (choice(a, member(payload, "bucket", "buckets", "granularity"), w, grafana_unit_names, GRAFANA_U__MAX,
	    unit_aliases, (int)t->unit, &n, e) != 0)
		return -1;
	t->unit = (enum grafana_unit)n;

	snprintf(w, sizeof(w), "%s.format", where);
	if (choice(a, json_object_get(payload, "format"), w, format_names, GRAFANA_F__MAX, format_aliases,
	    (int)t->format, &n, e) != 0)
		return -1;
	t->format = (enum grafana_format)n;

	snprintf(w, sizeof(w), "%s.billable", where);
	if (choice(a, json_object_get(payload, "billable"), w, billable_names, 3, billable_aliases, 0, &billable, e) != 0)
		return -1;
	if (billable != 0) {
		/* The filter keeps the list: it lives in the arena, not on this stack. */
		struct grafana_strv one = { arena_alloc(a, sizeof(const char *)), 1 };
		if (one.v == NULL)
			return oom(e);
		one.v[0] = billable == 1 ? "true" : "false";
		if (grafana_filters_add(a, &t->filters, GRAFANA_K_BILLABLE, GRAFANA_OP_EQ, 0, &one, e) != 0)
			return -1;
	}

	for (size_t i = 0; i < sizeof(multi_fields) / sizeof(multi_fields[0]); i++) {
		snprintf(w, sizeof(w), "%s.%s", where, multi_fields[i].name);
		if (grafana_json_strv(a, member(payload, multi_fields[i].name, multi_fields[i].alt, NULL), 1, w,
		    &sv, e) != 0)
			return -1;
		if (sv.n > 0 && grafana_filters_add(a, &t->filters, multi_fields[i].key, GRAFANA_OP_IN,
		    multi_fields[i].ref, &sv, e) != 0)
			return -1;
	}

	snprintf(w, sizeof(w), "%s.users", where);
	if (grafana_json_strv(a, member(payload, "users", "user", NULL), 1, w, &t->users, e) != 0)
		return -1;

	snprintf(w, sizeof(w), "%s.tz", where);
	if (grafana_json_strv(a, member(payload, "tz", "timezone", "time_zone"), 0, w, &sv, e) != 0)
		return -1;
	if (sv.n > 1)
		return bad(e, "%s: takes one time zone, not %zu", w, sv.n);
	if (sv.n == 1)
		t->tz = sv.v[0];

	snprintf(w, sizeof(w), "%s.limit", where);
	if (integer(json_object_get(payload, "limit"), w, 1, LIMIT_GRAFANA_ROWS_MAX, &limit, e) != 0)
		return -1;
	if (limit > 0)
		t->limit = limit;

	if ((t->alias == NULL || *t->alias == '\0') && json_is_string(json_object_get(payload, "alias")))
		t->alias = arena_strdup(a, json_string_value(json_object_get(payload, "alias")));
	return 0;
}

int
grafana_parse_range(json_t *body, struct grafana_query *q, struct grafana_err *e)
{
	json_t *range = json_object_get(body, "range"), *from, *to;
	const char *name = "range";

	if (range == NULL || json_is_null(range)) {
		range = json_object_get(body, "timeRange");
		name = "timeRange";
	}
	if (range == NULL || json_is_null(range))
		return 0;
	if (!json_is_object(range))
		return bad(e, "%s: must be an object with from and to", name);
	from = json_object_get(range, "from");
	to = json_object_get(range, "to");
	if (from == NULL || grafana_parse_time(from, &q->from_ms) != 0)
		return bad(e, "%s.from: must be an RFC 3339 time (\"2024-01-01T00:00:00.000Z\") or epoch milliseconds",
		    name);
	if (to == NULL || grafana_parse_time(to, &q->to_ms) != 0)
		return bad(e, "%s.to: must be an RFC 3339 time (\"2024-01-01T00:00:00.000Z\") or epoch milliseconds",
		    name);
	if (q->from_ms >= q->to_ms)
		return bad(e, "%s: from must be before to", name);
	q->has_range = 1;
	return 0;
}

/* A target's payload: an object, or (legacy, hand-written dashboards) JSON text of one. */
static int
target_payload(struct arena *a, json_t *tj, const char *where, struct grafana_target *t, struct grafana_err *e)
{
	json_t *p = json_object_get(tj, "payload"), *parsed;
	json_error_t jerr;
	char w[96];
	int rc;

	snprintf(w, sizeof(w), "%s.payload", where);
	if (p == NULL || json_is_null(p)) {
		p = json_object_get(tj, "data");   /* SimpleJSON and simPod before 0.3 */
		snprintf(w, sizeof(w), "%s.data", where);
	}
	if (p == NULL || json_is_null(p))
		return 0;
	if (json_is_string(p)) {
		const char *s = json_string_value(p);
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 0;
		if ((parsed = json_loads(s, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
			return bad(e, "%s: not valid JSON (%s at line %d, column %d)", w, jerr.text, jerr.line,
			    jerr.column);
		rc = grafana_parse_payload(a, parsed, w, t, e);
		json_decref(parsed);
		return rc;
	}
	return grafana_parse_payload(a, p, w, t, e);
}

static int
truthy(json_t *v)
{
	return json_is_true(v) || (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0);
}

int
grafana_parse_query(struct arena *a, json_t *body, int need_range, int admin, struct grafana_query *q,
    struct grafana_err *e)
{
	json_t *targets, *tj, *v;
	char where[64], shownbuf[80];
	const char *s;
	size_t i;
	long n = 0;

	memset(q, 0, sizeof(*q));
	if (grafana_parse_range(body, q, e) != 0)
		return -1;
	if (need_range && !q->has_range)
		return bad(e, "range: missing; send {\"range\": {\"from\": \"...\", \"to\": \"...\"}}");

	/* Ten years: more than any bucket we make. */
	if (integer(json_object_get(body, "intervalMs"), "intervalMs", 0, 315360000000L, &n, e) != 0)
		return -1;
	q->interval_ms = n;
	if (q->interval_ms == 0 && json_is_string(json_object_get(body, "interval")))
		q->interval_ms = interval_text_ms(json_string_value(json_object_get(body, "interval")));
	n = 0;
	if (integer(json_object_get(body, "maxDataPoints"), "maxDataPoints", 0, 100000000L, &n, e) != 0)
		return -1;
	q->max_points = n;
	if (json_is_string(v = json_object_get(body, "timezone")) &&
	    (q->timezone = arena_strdup(a, json_string_value(v))) == NULL)
		return oom(e);
	if (json_is_string(v = json_object_get(body, "requestId")) && strncmp(json_string_value(v), "AQ", 2) == 0)
		q->annotation = 1;

	if (grafana_parse_adhoc(a, json_object_get(body, "filters"), "filters", admin, &q->adhoc, e) != 0 ||
	    grafana_parse_adhoc(a, json_object_get(body, "adhocFilters"), "adhocFilters", admin, &q->adhoc, e) != 0)
		return -1;

	targets = json_object_get(body, "targets");
	if (targets == NULL || json_is_null(targets))
		return 0;
	if (!json_is_array(targets))
		return bad(e, "targets: must be an array");
	if (json_array_size(targets) > LIMIT_GRAFANA_TARGETS_MAX)
		return bad(e, "targets: more than %d", LIMIT_GRAFANA_TARGETS_MAX);
	if ((q->targets = arena_alloc(a, (json_array_size(targets) + 1) * sizeof(*q->targets))) == NULL)
		return oom(e);
	json_array_foreach(targets, i, tj) {
		struct grafana_target *t = &q->targets[q->ntargets];
		int m;

		snprintf(where, sizeof(where), "targets[%zu]", i);
		if (!json_is_object(tj))
			return bad(e, "%s: must be an object", where);
		if (truthy(json_object_get(tj, "hide")))
			continue;
		v = json_object_get(tj, "target");
		if (!json_is_string(v) || *(s = json_string_value(v)) == '\0')
			continue;   /* the plugin drops these itself; old ones did not */
		if ((m = grafana_metric_parse(s)) < 0)
			return bad(e, "%s.target: unknown metric %s; use one of hours, entries, billable_ratio, "
			    "earnings, entries_table, running, annotations", where, shown(shownbuf, s));
		memset(t, 0, sizeof(*t));
		t->metric = (enum grafana_metric)m;
		t->ref_id = json_is_string(json_object_get(tj, "refId")) ?
		    arena_strdup(a, json_string_value(json_object_get(tj, "refId"))) : arena_printf(a, "%c", 'A' + (int)(i % 26));
		if (t->ref_id == NULL)
			return oom(e);
		if (json_is_string(v = json_object_get(tj, "alias")) && *json_string_value(v))
			t->alias = arena_strdup(a, json_string_value(v));
		if (json_is_string(v = json_object_get(tj, "type"))) {
			s = json_string_value(v);
			if (strcasecmp(s, "table") == 0)
				t->format = GRAFANA_F_TABLE;
			else if (strcasecmp(s, "timeserie") == 0 || strcasecmp(s, "timeseries") == 0)
				t->format = GRAFANA_F_SERIES;
		}
		if (target_payload(a, tj, where, t, e) != 0)
			return -1;
		q->ntargets++;
	}
	return 0;
}
